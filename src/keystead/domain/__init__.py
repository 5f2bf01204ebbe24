"""Plain types and rules: specs, states, transitions. Standard library only."""
