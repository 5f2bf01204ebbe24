"""Backup and restore speed and memory, 1,000 keys against 10,000 (issue 6, must-show 5).

For each size: a source Keystead (SQLite, its own shares) is filled with keys of mixed specs,
three versions each; a full backup streams to a file; a second Keystead, initialised with
other shares, restores it. Printed: keys/s of each, the archive's size, and the peak of
Python memory allocated during each (tracemalloc, measured in a second pass so that it does
not slow the timed one). Streaming holds: the peak must not grow with the key count.

    .venv/bin/python bench/backup.py [--sizes 1000 10000]
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
import tracemalloc
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from pathlib import Path

from rich.console import Console
from rich.table import Table

from keystead.config import load_settings
from keystead.domain.models import Principal
from keystead.domain.specs import KeySpec
from keystead.services.backup import BackupRequest
from keystead.services.container import Services, build_services
from keystead.services.keys import NewKey
from keystead.services.restore import RestoreRequest
from keystead.storage.engine import session_factory
from keystead.storage.uow import Database
from keystead.types import KeyVersionNumber

SPECS = (KeySpec.AES_256_GCM, KeySpec.HMAC_SHA256, KeySpec.ED25519, KeySpec.EC_P256)
VERSIONS = 3
PASSPHRASE = "the benchmark's backup passphrase"  # noqa: S105 - a benchmark's own
SEED_BATCH = 500


@dataclass(frozen=True)
class Figures:
    keys: int
    backup_seconds: float
    restore_seconds: float
    archive_bytes: int
    backup_peak: int
    restore_peak: int


async def _started(directory: Path) -> tuple[Services, Principal]:
    settings = load_settings(data_dir=directory, insecure_http=True)
    services = build_services(settings)
    result = await services.system.initialize(1, 1)
    await services.system.unseal(result.shares[0])
    return services, await services.tokens.authenticate(result.root_token)


async def _seed(services: Services, count: int) -> None:
    """Insert ``count`` keys of three versions each, a few hundred per transaction."""
    keys = services.keys
    database = Database(session_factory(services.engine))
    for start in range(0, count, SEED_BATCH):
        async with database.unit_of_work() as uow:
            for index in range(start, min(count, start + SEED_BATCH)):
                request = NewKey(name=f"k{index:05d}", spec=SPECS[index % len(SPECS)])
                key, first = keys.prepare(request, "root")
                await uow.keys.add(key, first)
                for number in range(2, VERSIONS + 1):
                    version = keys.new_version(key, KeyVersionNumber(number), key.created_at)
                    await uow.keys.add_version(key.id, version)


async def _timed(work: Callable[[], Awaitable[object]], *, trace: bool) -> tuple[float, int]:
    if trace:
        tracemalloc.start()
        tracemalloc.reset_peak()
    started = time.perf_counter()
    await work()
    elapsed = time.perf_counter() - started
    peak = 0
    if trace:
        peak = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
    return elapsed, peak


async def _measure(count: int, root: Path) -> Figures:
    source, source_root = await _started(root / f"source-{count}")
    await _seed(source, count)
    archive = root / f"backup-{count}.kst"
    results: dict[str, tuple[float, int]] = {}

    async def back_up() -> None:
        stream = await source.backups.create(source_root, BackupRequest(passphrase=PASSPHRASE))
        with archive.open("wb") as out:
            async for chunk in stream.chunks:
                out.write(chunk)

    for trace in (False, True):
        target, target_root = await _started(root / f"target-{count}-{trace}")

        async def restore(target: Services = target, principal: Principal = target_root) -> None:
            with archive.open("rb") as body:
                report = await target.restores.restore(
                    principal, body, RestoreRequest(passphrase=PASSPHRASE)
                )
            if report.counts["restored"] != count:
                msg = f"restored {report.counts['restored']} of {count} keys"
                raise RuntimeError(msg)

        backup_time = await _timed(back_up, trace=trace)
        restore_time = await _timed(restore, trace=trace)
        results[f"backup-{trace}"], results[f"restore-{trace}"] = backup_time, restore_time
        await target.close()
    await source.close()
    return Figures(
        count, results["backup-False"][0], results["restore-False"][0], archive.stat().st_size,
        results["backup-True"][1], results["restore-True"][1],
    )  # fmt: skip


def _report(figures: list[Figures]) -> None:
    table = Table(title=f"Backup and restore, {VERSIONS} versions a key, mixed specs")
    for column in ("keys", "backup keys/s", "restore keys/s", "archive", "backup peak",
                   "restore peak"):  # fmt: skip
        table.add_column(column, justify="right")
    for f in figures:
        table.add_row(
            f"{f.keys:,}", f"{f.keys / f.backup_seconds:,.0f}",
            f"{f.keys / f.restore_seconds:,.0f}",
            f"{f.archive_bytes / 2**20:.1f} MiB", f"{f.backup_peak / 2**20:.1f} MiB",
            f"{f.restore_peak / 2**20:.1f} MiB",
        )  # fmt: skip
    console = Console()
    console.print(table)
    small, large = figures[0], figures[-1]
    console.print(
        f"peak memory, {large.keys:,} keys against {small.keys:,}: backup "
        f"{large.backup_peak / small.backup_peak:.2f}x, restore "
        f"{large.restore_peak / small.restore_peak:.2f}x (the key count grew "
        f"{large.keys / small.keys:.0f}x)"
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[1000, 10000])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="keystead-bench-backup-") as directory:
        figures = [asyncio.run(_measure(count, Path(directory))) for count in args.sizes]
    _report(figures)


if __name__ == "__main__":
    main()
