"""Rendering for print and screen: QR code images. May import the domain layer, nothing above it."""
