"""NIST SP 800-57 key states and the one table of allowed transitions (STYLE.md C6, C7)."""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum
from typing import Final

from keystead.errors import InvalidStateTransition


class KeyState(StrEnum):
    """Lifecycle state of a key or version (NIST SP 800-57 Part 1, section 7)."""

    PRE_ACTIVE = "PRE_ACTIVE"
    """Generated, not yet usable for anything."""
    ACTIVE = "ACTIVE"
    """Protects (encrypt, sign, MAC) and processes (decrypt, verify)."""
    SUSPENDED = "SUSPENDED"
    """Temporarily disabled: no operation at all."""
    DEACTIVATED = "DEACTIVATED"
    """Archived: processes old data, protects nothing new."""
    COMPROMISED = "COMPROMISED"
    """Revoked: processes only with an explicit, audited override."""
    DESTROY_PENDING = "DESTROY_PENDING"
    """Waiting out the destruction period; cancellable."""
    DESTROYED = "DESTROYED"
    """Material erased; metadata kept."""
    DESTROYED_COMPROMISED = "DESTROYED_COMPROMISED"
    """Material of a compromised key erased; metadata kept."""


_S = KeyState

ALLOWED_TRANSITIONS: Final[Mapping[KeyState, frozenset[KeyState]]] = {
    _S.PRE_ACTIVE: frozenset({_S.ACTIVE, _S.COMPROMISED, _S.DESTROY_PENDING}),
    _S.ACTIVE: frozenset({_S.SUSPENDED, _S.DEACTIVATED, _S.COMPROMISED}),
    _S.SUSPENDED: frozenset({_S.ACTIVE, _S.DEACTIVATED, _S.COMPROMISED, _S.DESTROY_PENDING}),
    _S.DEACTIVATED: frozenset({_S.COMPROMISED, _S.DESTROY_PENDING}),
    _S.COMPROMISED: frozenset({_S.DESTROY_PENDING}),
    # Cancel goes back to the state recorded before DESTROY_PENDING; the service checks
    # that the target equals that recorded state.
    _S.DESTROY_PENDING: frozenset(
        {_S.PRE_ACTIVE, _S.SUSPENDED, _S.DEACTIVATED, _S.COMPROMISED}
        | {_S.DESTROYED, _S.DESTROYED_COMPROMISED}
    ),
    _S.DESTROYED: frozenset(),
    _S.DESTROYED_COMPROMISED: frozenset(),
}


def check_transition(current: KeyState, target: KeyState) -> None:
    """Raise unless ``current`` may move to ``target``.

    Raises:
        InvalidStateTransition: The table does not allow it; the message names both states.
    """
    if target not in ALLOWED_TRANSITIONS[current]:
        msg = f"a key in state {current} cannot move to {target}"
        raise InvalidStateTransition(msg)
