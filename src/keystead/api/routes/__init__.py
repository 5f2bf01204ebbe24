"""Route modules, one per resource; ``ENDPOINTS`` is the whole table."""
