"""The domain layer: the rules and data shapes of vocational skill certificates.

Pure Python and the standard library only: nothing here reads the environment, opens a file other
than its own reference data, or knows about HTTP or SQL (``tests/unit/test_layering.py``).
"""
