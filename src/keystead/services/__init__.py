"""Use cases: authorization, lifecycle rules, crypto and storage composed, one transaction each."""
