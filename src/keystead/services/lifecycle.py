"""Lifecycle verbs (STYLE.md C7) and rotation: every state change goes through one table."""

from __future__ import annotations

from dataclasses import replace
from datetime import datetime, timedelta
from typing import Final

from keystead.domain.lifecycle import ALLOWED_TRANSITIONS, KeyState, check_transition
from keystead.domain.models import Key, KeyVersionInfo, Principal, RevocationReason
from keystead.domain.operations import DESTROYED_STATES
from keystead.errors import (
    InvalidStateTransition,
    KeyStateForbidsOperation,
    KeyVersionNotFound,
    UnsupportedOperation,
    ValidationFailed,
)
from keystead.services.clock import Clock
from keystead.services.hsm_keys import is_hsm
from keystead.services.keys import EXTERNAL_ORIGIN, KeyService
from keystead.storage.uow import Database, UnitOfWork
from keystead.types import KeyId, KeyVersionNumber

DEFAULT_PENDING_DAYS: Final = 30
MAX_PENDING_DAYS: Final = 365
_COMPROMISE: Final = frozenset({RevocationReason.KEY_COMPROMISE, RevocationReason.CA_COMPROMISE})
_S = KeyState
_USABLE: Final = frozenset({_S.PRE_ACTIVE, _S.ACTIVE, _S.SUSPENDED})


def with_new_primary(key: Key, now: datetime) -> Key:
    """The key with one more version, primary from ``now`` (rotation, BYOK import of a version).

    A rotation period, if the key has one, starts again from ``now``.
    """
    period = key.rotation_period
    return replace(
        key, primary_version=KeyVersionNumber(key.primary_version + 1), updated_at=now,
        next_rotation_at=None if period is None else now + period,
    )  # fmt: skip


def destroyed_state(*states: KeyState | None) -> KeyState:
    """The state erasure leaves: DESTROYED_COMPROMISED (kept on record) after a compromise."""
    return _S.DESTROYED_COMPROMISED if _S.COMPROMISED in states else _S.DESTROYED


class LifecycleService:
    """Moves keys between the states of ARCHITECTURE.md section 3, and rotates them."""

    def __init__(
        self, database: Database, keys: KeyService, clock: Clock, *, allow_zero_wait: bool
    ) -> None:
        self._database = database
        self._keys = keys
        self._clock = clock
        self._allow_zero_wait = allow_zero_wait

    async def activate(self, principal: Principal, reference: str) -> Key:
        """PRE_ACTIVE to ACTIVE.

        Raises:
            InvalidStateTransition: From any other state.
        """
        return await self._move_from(principal, reference, _S.PRE_ACTIVE, "activate")

    async def suspend(self, principal: Principal, reference: str) -> Key:
        """ACTIVE to SUSPENDED: no operation at all until resumed.

        Raises:
            InvalidStateTransition: From any other state.
        """
        return await self._move(principal, reference, _S.SUSPENDED, "keys.suspend")

    async def resume(self, principal: Principal, reference: str) -> Key:
        """SUSPENDED to ACTIVE.

        Raises:
            InvalidStateTransition: From any other state.
        """
        return await self._move_from(principal, reference, _S.SUSPENDED, "resume")

    async def deactivate(self, principal: Principal, reference: str) -> Key:
        """To DEACTIVATED: decrypts and verifies old data, protects nothing new.

        Raises:
            InvalidStateTransition: From a state that cannot be deactivated.
        """
        return await self._move(principal, reference, _S.DEACTIVATED, "keys.deactivate")

    async def revoke(
        self,
        principal: Principal,
        reference: str,
        reason: RevocationReason,
        compromise_date: datetime | None = None,
    ) -> Key:
        """Revoke: COMPROMISED for a compromise, DEACTIVATED for any other reason (KMIP).

        Raises:
            InvalidStateTransition: The key cannot be revoked from its state.
            ValidationFailed: A compromise date in the future.
        """
        now = self._clock()
        if compromise_date is not None and compromise_date > now:
            msg = "compromise_date cannot be in the future"
            raise ValidationFailed(msg)
        target = _S.COMPROMISED if reason in _COMPROMISE else _S.DEACTIVATED
        when = compromise_date or now if target is _S.COMPROMISED else None
        return await self._move(
            principal, reference, target, "keys.revoke",
            revocation_reason=reason, compromise_date=when,
        )  # fmt: skip

    async def schedule_destruction(
        self, principal: Principal, reference: str, pending_days: int = DEFAULT_PENDING_DAYS
    ) -> Key:
        """To DESTROY_PENDING; the scheduler destroys the material after ``pending_days``.

        Raises:
            ValidationFailed: A waiting period out of range.
            InvalidStateTransition: An ACTIVE key must be deactivated (or suspended) first.
        """
        key = (await self._keys.authorized(principal, "keys.schedule_destruction", reference)).key
        lowest = 0 if self._allow_zero_wait else 1
        if not lowest <= pending_days <= MAX_PENDING_DAYS:
            msg = f"pending_days must be {lowest} to {MAX_PENDING_DAYS}"
            raise ValidationFailed(msg)
        due = self._clock() + timedelta(days=pending_days)
        return await self.move(
            reference, _S.DESTROY_PENDING,
            destruction_date=due, state_before_destruction=key.state,
        )  # fmt: skip

    async def cancel_destruction(self, principal: Principal, reference: str) -> Key:
        """DESTROY_PENDING back to the state it came from.

        Raises:
            InvalidStateTransition: The key is not pending destruction.
        """
        key = (await self._keys.authorized(principal, "keys.cancel_destruction", reference)).key
        if key.state is not _S.DESTROY_PENDING or key.state_before_destruction is None:
            msg = f"a key in state {key.state} has no destruction to cancel"
            raise InvalidStateTransition(msg)
        return await self.move(
            reference, key.state_before_destruction,
            destruction_date=None, state_before_destruction=None,
        )  # fmt: skip

    async def rotate(self, principal: Principal, reference: str) -> Key:
        """Add a version and make it primary; older versions still decrypt and verify.

        Raises:
            KeyStateForbidsOperation: Only an ACTIVE key rotates.
        """
        await self._keys.authorized(principal, "keys.rotate", reference)
        return await self.rotate_key(reference)

    async def rotate_key(self, reference: str) -> Key:
        """Rotate without an authorization check (the scheduler's entry point).

        Raises:
            KeyStateForbidsOperation: Only an ACTIVE key rotates.
            UnsupportedOperation: The key was imported (origin EXTERNAL).
        """
        key = (await self._keys.resolve(reference)).key
        if key.state is not _S.ACTIVE:
            msg = f"a key in state {key.state} cannot rotate"
            raise KeyStateForbidsOperation(msg)
        if key.origin == EXTERNAL_ORIGIN:
            # Its material comes from outside; a version Keystead made would mix origins.
            msg = (
                "an imported key (origin EXTERNAL) does not rotate: its material is not ours; "
                "import a new version into it instead"
            )
            raise UnsupportedOperation(msg)
        now = self._clock()
        rotated = with_new_primary(key, now)
        new_version = await self._keys.make_version(rotated, rotated.primary_version, now)
        try:
            async with self._database.unit_of_work() as uow:
                await uow.keys.update(
                    rotated, expected_state=key.state, expected_primary=key.primary_version
                )
                await uow.keys.add_version(key.id, new_version)
        except Exception:
            if new_version.hsm_object_id is not None:  # a new token object no row names
                await self._keys.hsm.discard(new_version.hsm_object_id)
            raise
        self._keys.forget(key.id)
        return rotated

    async def destroy(self, reference: str) -> Key:
        """Carry out a destruction whose waiting period has ended: erase every version.

        An HSM-protected key's token objects are destroyed first, so a token that fails
        leaves the key pending, and the scheduler's next pass tries again.

        Raises:
            InvalidStateTransition: The key is not pending destruction.
            HSMError: The token cannot destroy the objects.
        """
        key = (await self._keys.resolve(reference)).key
        target = destroyed_state(key.state_before_destruction)
        check_transition(key.state, target)
        if is_hsm(key):
            await self._keys.hsm.destroy(key.id)
        now = self._clock()
        destroyed = replace(key, state=target, updated_at=now)
        async with self._database.unit_of_work() as uow:
            await uow.keys.update(destroyed, expected_state=key.state)
            versions = await uow.keys.versions(key.id)
            gone = [replace(v, state=target, destroyed_at=now) for v in versions]
            await uow.keys.set_version_states(key.id, gone)
            await uow.keys.erase_material(key.id)
        self._keys.forget(key.id)
        return destroyed

    async def _move_from(
        self, principal: Principal, reference: str, required: KeyState, verb: str
    ) -> Key:
        """To ACTIVE, for the verbs that the table's other paths to ACTIVE must not reach."""
        key = (await self._keys.authorized(principal, f"keys.{verb}", reference)).key
        if key.state is not required:
            msg = f"a key in state {key.state} cannot {verb}: only a {required} key can"
            raise InvalidStateTransition(msg)
        return await self.move(reference, _S.ACTIVE)

    async def _move(
        self,
        principal: Principal,
        reference: str,
        target: KeyState,
        action: str,
        **changes: object,
    ) -> Key:
        await self._keys.authorized(principal, action, reference)
        return await self.move(reference, target, **changes)

    async def move(self, reference: str, target: KeyState, **changes: object) -> Key:
        """Move a key to ``target`` if the table allows it, writing ``changes`` with it.

        Raises:
            InvalidStateTransition: The table does not allow it; the message names the state.
        """
        key = (await self._keys.resolve(reference)).key
        check_transition(key.state, target)
        moved = replace(key, state=target, updated_at=self._clock(), **changes)  # type: ignore[arg-type]
        async with self._database.unit_of_work() as uow:
            await uow.keys.update(moved, expected_state=key.state)
        self._keys.forget(key.id)
        return moved


class VersionLifecycle:
    """State changes of one version: deactivate, revoke, schedule and cancel destruction.

    The primary version of a usable key cannot be taken out of service: rotate first.
    """

    def __init__(self, database: Database, keys: KeyService, clock: Clock) -> None:
        self._database = database
        self._keys = keys
        self._clock = clock

    async def deactivate(
        self, principal: Principal, reference: str, version: int
    ) -> KeyVersionInfo:
        """A version to DEACTIVATED: it still decrypts and verifies.

        Raises:
            InvalidStateTransition: From a state the table does not allow.
        """
        await self._keys.authorized(principal, "keys.version_deactivate", reference)
        return await self.move(reference, version, _S.DEACTIVATED)

    async def revoke(self, principal: Principal, reference: str, version: int) -> KeyVersionInfo:
        """A version to COMPROMISED: nothing uses it any more.

        Raises:
            InvalidStateTransition: From a state the table does not allow.
        """
        await self._keys.authorized(principal, "keys.version_revoke", reference)
        return await self.move(reference, version, _S.COMPROMISED)

    async def schedule_destruction(
        self, principal: Principal, reference: str, version: int, pending_days: int
    ) -> KeyVersionInfo:
        """A version to DESTROY_PENDING; the scheduler erases it after ``pending_days``.

        Raises:
            ValidationFailed: A waiting period out of range.
            InvalidStateTransition: From a state the table does not allow.
        """
        await self._keys.authorized(principal, "keys.version_schedule_destruction", reference)
        if not 1 <= pending_days <= MAX_PENDING_DAYS:
            msg = f"pending_days must be 1 to {MAX_PENDING_DAYS}"
            raise ValidationFailed(msg)
        due = self._clock() + timedelta(days=pending_days)
        return await self.move(reference, version, _S.DESTROY_PENDING, destruction_date=due)

    async def cancel_destruction(
        self, principal: Principal, reference: str, version: int
    ) -> KeyVersionInfo:
        """A version from DESTROY_PENDING back to the state it came from.

        Raises:
            InvalidStateTransition: The version is not pending destruction.
        """
        await self._keys.authorized(principal, "keys.version_cancel_destruction", reference)
        info = await self._version(reference, version)
        if info.state is not _S.DESTROY_PENDING or info.state_before_destruction is None:
            msg = f"version {version} in state {info.state} has no destruction to cancel"
            raise InvalidStateTransition(msg)
        return await self.move(reference, version, info.state_before_destruction)

    async def destroy(self, reference: str, version: int) -> KeyVersionInfo:
        """Erase a version whose waiting period has ended.

        Raises:
            InvalidStateTransition: The version is not pending destruction.
        """
        info = await self._version(reference, version)
        target = destroyed_state(info.state_before_destruction)
        return await self.move(reference, version, target, destroyed_at=self._clock())

    async def expire(self, reference: str, version: int) -> KeyVersionInfo | None:
        """Erase a version whose imported material has passed its ``valid_to`` (the scheduler's).

        The importer set the end of the material's life: there is no waiting period to
        cancel, so the version is erased at once, from any state, as a destruction leaves it.
        A key left with no material is DESTROYED too, as :meth:`LifecycleService.destroy`
        leaves it. Otherwise the key keeps its state: older versions still decrypt and
        verify, and an expired primary fails with KeyDestroyed until a version is imported.

        Returns:
            The version as erased, or None if there was nothing (left) to erase.

        Raises:
            KeyNotFound: No such key.
            ConflictError: The key changed meanwhile; the next pass tries again.
        """
        key_id = (await self._keys.resolve(reference)).key.id
        now = self._clock()
        async with self._database.unit_of_work() as uow:
            found = await _expirable(uow, key_id, version, now)
            if found is None:
                return None
            key, info = found
            compromise = (key.state, key.state_before_destruction, info.state,
                          info.state_before_destruction)  # fmt: skip
            expired = replace(info, state=destroyed_state(*compromise), destroyed_at=now)
            await uow.keys.set_version_states(key_id, [expired])
            await uow.keys.erase_material(key_id, version)
            held = await uow.keys.holds_material(key_id)
            state = key.state if held else destroyed_state(*compromise[:2])
            # The key row changes even when its state does not, so that every node's cache
            # sees a changed key on its next read and wipes the material it had unwrapped.
            changed = replace(key, state=state, updated_at=now)
            await uow.keys.update(changed, expected_state=key.state)
        self._keys.forget(key_id)
        return expired

    async def _version(self, reference: str, version: int) -> KeyVersionInfo:
        key = (await self._keys.resolve(reference)).key
        async with self._database.unit_of_work() as uow:
            for info in await uow.keys.versions(key.id):
                if info.version == version:
                    return info
        raise KeyVersionNotFound

    async def move(
        self, reference: str, version: int, target: KeyState, **changes: object
    ) -> KeyVersionInfo:
        """Move one version to ``target`` if the table allows it.

        Raises:
            InvalidStateTransition: Not allowed, or the primary version of a usable key.
            KeyVersionNotFound: No such version.
        """
        key = (await self._keys.resolve(reference)).key
        info = await self._version(reference, version)
        if target not in ALLOWED_TRANSITIONS[info.state]:
            msg = f"version {version} in state {info.state} cannot move to {target}"
            raise InvalidStateTransition(msg)
        if version == key.primary_version and key.state in _USABLE:
            msg = f"version {version} is the primary version: rotate the key first"
            raise InvalidStateTransition(msg)
        before = info.state if target is _S.DESTROY_PENDING else None
        if info.state is _S.DESTROY_PENDING and target not in DESTROYED_STATES:
            changes.setdefault("destruction_date", None)  # cancelled
        moved = replace(info, state=target, state_before_destruction=before, **changes)  # type: ignore[arg-type]
        if target in DESTROYED_STATES and is_hsm(key):
            await self._keys.hsm.destroy(key.id, version)
        async with self._database.unit_of_work() as uow:
            await uow.keys.set_version_states(key.id, [moved])
            if target in DESTROYED_STATES:
                await uow.keys.erase_material(key.id, version)
        self._keys.forget(key.id)
        return moved


async def _expirable(
    uow: UnitOfWork, key_id: KeyId, version: int, now: datetime
) -> tuple[Key, KeyVersionInfo] | None:
    """The key and version, read afresh, if the version's material is past its valid_to."""
    key = await uow.keys.get(key_id)
    info = next((v for v in await uow.keys.versions(key_id) if v.version == version), None)
    if key is None or info is None or info.valid_to is None or info.valid_to > now:
        return None
    if await uow.keys.material(key_id, version) is None:
        return None  # already erased, by a destruction that ran first
    return key, info
