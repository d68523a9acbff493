"""Keys and cryptography: Ed25519 signing keys and signatures, holder-ID protection (blind index
and AEAD) and its key file. May import the domain layer, nothing above it."""
