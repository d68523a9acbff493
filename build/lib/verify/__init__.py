"""verify: certificate verification service for Chinese vocational skill certificates."""

__version__ = "0.1.0"
