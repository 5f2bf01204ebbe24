"""Keystead: a self-hostable key management system."""

__version__ = "0.1.0"
