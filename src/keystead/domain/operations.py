"""Which lifecycle state permits which operation: one declarative table (STYLE.md C8)."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Final

from keystead.domain.lifecycle import KeyState
from keystead.errors import KeyDestroyed, KeyStateForbidsOperation


class KeyOperation(StrEnum):
    """An operation that uses key material."""

    ENCRYPT = "encrypt"
    DECRYPT = "decrypt"
    SIGN = "sign"
    VERIFY = "verify"
    MAC = "mac"
    MAC_VERIFY = "mac_verify"
    WRAP = "wrap"
    UNWRAP = "unwrap"
    EXPORT = "export"


PROTECT_OPERATIONS: Final = frozenset(
    {KeyOperation.ENCRYPT, KeyOperation.SIGN, KeyOperation.MAC, KeyOperation.WRAP}
)
PROCESS_OPERATIONS: Final = frozenset(
    {KeyOperation.DECRYPT, KeyOperation.VERIFY, KeyOperation.MAC_VERIFY, KeyOperation.UNWRAP}
)

DESTROYED_STATES: Final = frozenset({KeyState.DESTROYED, KeyState.DESTROYED_COMPROMISED})

PERMITTED_OPERATIONS: Final[Mapping[KeyState, frozenset[KeyOperation]]] = {
    KeyState.PRE_ACTIVE: frozenset(),
    # A deactivated key may still be handed on (wrapped) to decrypt and verify old data.
    KeyState.ACTIVE: PROTECT_OPERATIONS | PROCESS_OPERATIONS | {KeyOperation.EXPORT},
    KeyState.SUSPENDED: frozenset(),
    KeyState.DEACTIVATED: PROCESS_OPERATIONS | {KeyOperation.EXPORT},
    # COMPROMISED processes only with an explicit, audited override (ARCHITECTURE.md s. 3);
    # the override is checked by the service, so the plain table allows nothing.
    KeyState.COMPROMISED: frozenset(),
    KeyState.DESTROY_PENDING: frozenset(),
    KeyState.DESTROYED: frozenset(),
    KeyState.DESTROYED_COMPROMISED: frozenset(),
}


def check_permitted(state: KeyState, operation: KeyOperation) -> None:
    """Raise unless a key in ``state`` may perform ``operation``.

    Raises:
        KeyDestroyed: The key's material is gone (DESTROYED, DESTROYED_COMPROMISED).
        KeyStateForbidsOperation: The message names the state and the operation.
    """
    if state in DESTROYED_STATES:
        msg = f"the key was destroyed ({state}): nothing can {operation} with it again"
        raise KeyDestroyed(msg)
    if operation not in PERMITTED_OPERATIONS[state]:
        msg = f"a key in state {state} cannot {operation}"
        raise KeyStateForbidsOperation(msg)
