"""The root of trust: Shamir shares, the PKCS#11 HSM seal, the barrier and its keyring."""
