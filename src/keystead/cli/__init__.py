"""The ``keystead`` command line (Typer)."""
