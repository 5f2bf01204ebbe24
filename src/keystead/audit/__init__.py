"""The hash-chained, append-only audit log (ARCHITECTURE.md section 8)."""
