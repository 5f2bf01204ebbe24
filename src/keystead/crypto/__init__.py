"""Cryptographic recipes: the only package that touches ``cryptography.hazmat``.

No storage, no HTTP, no clock. Callers never choose modes, nonces or padding.
"""
