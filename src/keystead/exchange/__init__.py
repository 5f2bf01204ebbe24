"""The reference exchange: a trading service that uses Keystead only through the SDK.

Users register and log in through Keystead; Keystead holds each user's signing key. An order
is a JSON object serialised with RFC 8785 (:mod:`keystead.exchange.canonical`) and signed
through Keystead's sign API; the exchange verifies it locally with the user's public key,
matches it on a price-time priority book, appends every balance change to a hash-chained
ledger signed with the exchange's own Keystead key, and answers with a signed confirmation.
"""
