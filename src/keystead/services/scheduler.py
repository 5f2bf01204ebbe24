"""The in-server scheduler: dates, rotation, destruction, and the end of imported material.

It activates and deactivates keys on their dates, rotates them on their periods, destroys
keys and versions whose waiting period has ended, erases imported material past its
``valid_to``, and removes BYOK import parameters that were used or have expired.

One node at a time does the work: on PostgreSQL a session advisory lock held for the pass; on
SQLite the database has one writer anyway, and every state change is optimistic
(``expected_state``), so a second node's attempt fails harmlessly.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Final

import structlog

from keystead.domain.lifecycle import KeyState
from keystead.domain.models import Key
from keystead.errors import KeysteadError
from keystead.seal.barrier import Barrier
from keystead.services.clock import Clock
from keystead.services.lifecycle import LifecycleService, VersionLifecycle
from keystead.storage.engine import AsyncEngine
from keystead.storage.key_repository import DueWork, find_due
from keystead.storage.locks import exclusive
from keystead.storage.uow import Database
from keystead.types import KeyId

# An arbitrary, fixed 64-bit key for pg_try_advisory_xact_lock: "keystead scheduler".
_ADVISORY_LOCK: Final = 0x6B73_7363_6865_6431
_log = structlog.get_logger("keystead.scheduler")


@dataclass(slots=True)
class SchedulerReport:
    """What one pass did, by kind of work; and what failed.

    ``expired_versions`` are versions whose imported material passed its ``valid_to`` and
    was erased; ``import_params_removed`` counts import parameters deleted as used or expired.
    """

    activated: list[KeyId] = field(default_factory=list)
    deactivated: list[KeyId] = field(default_factory=list)
    rotated: list[KeyId] = field(default_factory=list)
    destroyed: list[KeyId] = field(default_factory=list)
    destroyed_versions: list[tuple[KeyId, int]] = field(default_factory=list)
    expired_versions: list[tuple[KeyId, int]] = field(default_factory=list)
    import_params_removed: int = 0
    failed: list[KeyId] = field(default_factory=list)


class Scheduler:
    """Carries out the work whose time has come; ``run_once`` is what tests call."""

    def __init__(  # noqa: PLR0913, PLR0917 - explicit wiring (STYLE.md C5)
        self,
        engine: AsyncEngine,
        database: Database,
        barrier: Barrier,
        lifecycle: LifecycleService,
        versions: VersionLifecycle,
        clock: Clock,
    ) -> None:
        self._versions = versions
        self._engine = engine
        self._database = database
        self._barrier = barrier
        self._lifecycle = lifecycle
        self._clock = clock

    async def run_once(self) -> SchedulerReport:
        """Do one pass. Nothing happens while sealed or while another node holds the lock."""
        report = SchedulerReport()
        if self._barrier.sealed:
            return report
        async with exclusive(self._engine, _ADVISORY_LOCK) as held:
            if not held:
                return report
            async with self._database.unit_of_work() as uow:
                due = await find_due(uow.session, self._clock())
            await self._carry_out(due, report)
            await self._destroy_versions(due, report)
            await self._expire_versions(due, report)
            await self._remove_spent_import_params(report)
        return report

    async def _destroy_versions(self, due: DueWork, report: SchedulerReport) -> None:
        for key_id, version in due.destroy_versions:
            try:
                await self._versions.destroy(str(key_id), version)
            except KeysteadError as error:
                _log.warning("scheduled version destruction failed", key_id=str(key_id),
                             version=version, code=error.code)  # fmt: skip
                report.failed.append(key_id)
            else:
                report.destroyed_versions.append((key_id, version))

    async def _expire_versions(self, due: DueWork, report: SchedulerReport) -> None:
        for key_id, version in due.expire_versions:
            try:
                expired = await self._versions.expire(str(key_id), version)
            except KeysteadError as error:
                _log.warning("imported material expiry failed", key_id=str(key_id),
                             version=version, code=error.code)  # fmt: skip
                report.failed.append(key_id)
                continue
            if expired is not None:  # None: erased meanwhile, by a key destruction say
                _log.info("imported material expired and erased", key_id=str(key_id),
                          version=version)  # fmt: skip
                report.expired_versions.append((key_id, version))

    async def _remove_spent_import_params(self, report: SchedulerReport) -> None:
        try:
            async with self._database.unit_of_work() as uow:
                removed = await uow.imports.delete_spent(self._clock())
        except KeysteadError as error:
            _log.warning("removing spent import parameters failed", code=error.code)
            return
        report.import_params_removed = removed

    async def _carry_out(self, due: DueWork, report: SchedulerReport) -> None:
        jobs: list[tuple[list[KeyId], list[KeyId], Callable[[str], Awaitable[Key]]]] = [
            (due.activate, report.activated, self._activate),
            (due.deactivate, report.deactivated, self._deactivate),
            (due.rotate, report.rotated, self._lifecycle.rotate_key),
            (due.destroy, report.destroyed, self._lifecycle.destroy),
        ]
        for key_ids, done, action in jobs:
            for key_id in key_ids:
                try:
                    await action(str(key_id))
                except KeysteadError as error:
                    _log.warning("scheduled work failed", key_id=str(key_id), code=error.code)
                    report.failed.append(key_id)
                else:
                    done.append(key_id)

    async def _activate(self, reference: str) -> Key:
        return await self._lifecycle.move(reference, KeyState.ACTIVE)

    async def _deactivate(self, reference: str) -> Key:
        # The crypto period ended: the key stops protecting, keeps processing (section 2).
        return await self._lifecycle.move(reference, KeyState.DEACTIVATED)

    async def run_forever(self, interval_seconds: float) -> None:
        """Run a pass every ``interval_seconds`` until cancelled; errors are logged, not fatal."""
        while True:
            try:
                report = await self.run_once()
                if report.failed:
                    _log.warning("scheduler pass had failures", failed=len(report.failed))
            except KeysteadError as error:
                _log.warning("scheduler pass failed", code=error.code)
            await asyncio.sleep(interval_seconds)
