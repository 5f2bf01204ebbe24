"""The root of trust: Shamir shares, the barrier and its keyring."""
