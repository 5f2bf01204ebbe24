"""What every cryptographic operation checks first: usage, state and version (section 3)."""

from __future__ import annotations

from keystead.domain.lifecycle import KeyState
from keystead.domain.models import Key
from keystead.domain.operations import KeyOperation, check_permitted
from keystead.domain.specs import KeyUsage
from keystead.errors import (
    KeyStateForbidsOperation,
    KeyVersionNotFound,
    KeyVersionTooOld,
    UnsupportedOperation,
)
from keystead.services.key_cache import CachedKey


def check_usage(key: Key, usage: KeyUsage, operation: str) -> None:
    """Refuse an operation the key's usage does not cover (sign with an AES key, say).

    Raises:
        UnsupportedOperation: Naming the key's spec and usage.
    """
    if key.usage is not usage:
        msg = f"a key of spec {key.spec} for {key.usage} cannot {operation}"
        raise UnsupportedOperation(msg)


def protect_version(key: Key, operation: KeyOperation) -> int:
    """Return the version that protects new data: the primary one, if the state allows.

    Raises:
        KeyStateForbidsOperation: The key's state does not allow ``operation``.
    """
    check_permitted(key.state, operation)
    return key.primary_version


def process_version(entry: CachedKey, operation: KeyOperation, version: int | None) -> int:
    """Return the version that processes old data, checked against both states and minimum.

    A key's state caps its versions': both must allow ``operation`` (section 3).

    Raises:
        KeyStateForbidsOperation: The key's or the version's state does not allow it.
        KeyDestroyed: The version (or key) was destroyed.
        KeyVersionNotFound: A version the key never had.
        KeyVersionTooOld: A version below ``min_decryption_version``.
    """
    key = entry.key
    check_permitted(key.state, operation)
    chosen = key.primary_version if version is None else version
    if not 1 <= chosen <= key.primary_version:
        raise KeyVersionNotFound
    if chosen < key.min_decryption_version:
        msg = (
            f"version {chosen} is below the key's min_decryption_version "
            f"({key.min_decryption_version})"
        )
        raise KeyVersionTooOld(msg)
    state = entry.version_states.get(chosen, KeyState.ACTIVE)
    if state is not KeyState.ACTIVE:
        try:
            check_permitted(state, operation)
        except KeyStateForbidsOperation:
            msg = f"version {chosen} is {state}: it cannot {operation}"
            raise KeyStateForbidsOperation(msg) from None
    return chosen
