"""The printed report of `http_ops.py --audit-compare`: audit log on beside a no-op sink.

Issue 5, must-show 4: encrypt 1 KiB with the audit log on reaches 85% or more of the req/s
of the same server with ``audit_sink = "none"`` (a sink that records nothing).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from statistics import mean
from typing import Any

from _wrk import Load, Result
from rich.console import Console
from rich.markup import escape
from rich.table import Table

ENCRYPT = "encrypt 1 KiB"
SINKS = ("database", "none")  # KEYSTEAD_AUDIT_SINK values, in the order each round runs them
LABELS = {"database": "audit on", "none": "no-op sink"}
TARGET = 0.85
SATURATED = 0.95  # share of all cores busy above which wrk and the server compete for CPU
SHARED = 0.1  # cores used by other processes above which the machine was not ours alone


@dataclass(frozen=True)
class Sample:
    """One wrk run of one operation against one of the two servers, or why it was not run."""

    workers: int
    operation: str
    sink: str
    round: int
    result: Result | None
    note: str = ""
    log_events: dict[str, int] = field(default_factory=dict)  # server warnings/errors logged


def _other(result: Result) -> float:
    """CPU seconds the rest of the machine used: neither wrk nor the server."""
    return max(0.0, result.machine_busy - result.wrk_cpu - result.server_cpu)


def _cores(seconds: float, wall: float) -> str:
    return f"{seconds / wall:.2f}" if wall else "-"


def _errors(result: Result) -> str:
    return f"[bold red]{result.errors} INVALID[/bold red]" if result.errors else "0"


def _runs_table(samples: list[Sample], load: Load, cpus: int, rounds: int) -> Table:
    table = Table(
        title=f"Audit log on vs no-op sink, every run in the order run: wrk {load.threads} "
        f"threads, {load.connections} connections, {load.duration:g} s per run, {rounds} "
        f"round(s) ({cpus} CPUs)",
        title_justify="left",
    )
    for heading in ("workers", "round", "operation", "sink", "req/s", "p50 ms", "p99 ms"):
        table.add_column(heading, justify="left" if heading in {"operation", "sink"} else "right")
    for heading in ("errors", "wrk CPU", "server CPU", "other CPU"):
        table.add_column(heading, justify="right")
    for sample in samples:
        result = sample.result
        head = (str(sample.workers), str(sample.round), sample.operation, LABELS[sample.sink])
        if result is None:
            table.add_row(*head, f"[yellow]{escape(sample.note)}[/yellow]")
            continue
        table.add_row(
            *head, f"{result.rps:,.0f}", f"{result.p50_ms:.2f}", f"{result.p99_ms:.2f}",
            _errors(result), _cores(result.wrk_cpu, result.wall),
            _cores(result.server_cpu, result.wall), _cores(_other(result), result.wall),
        )  # fmt: skip
    table.caption = (
        "CPU columns are cores in use on average over the run (CPU seconds / wall seconds): "
        "wrk itself, the measured server's process tree, and every other process on the "
        "machine (the idle second server included)."
    )
    table.caption_justify = "left"
    return table


@dataclass(frozen=True)
class _Pooled:
    """One operation on one server over every round."""

    rps: float  # all requests / all seconds
    p50_ms: float  # mean of the rounds' p50
    p99_ms: float  # mean of the rounds' p99
    rounds: tuple[Result, ...]

    @classmethod
    def of(cls, results: list[Result]) -> _Pooled:
        seconds = sum(r.seconds for r in results)
        rps = sum(r.requests for r in results) / seconds if seconds else 0.0
        return cls(rps, mean(r.p50_ms for r in results), mean(r.p99_ms for r in results),
                   tuple(results))  # fmt: skip


def _pooled(samples: list[Sample]) -> dict[tuple[int, str, str], _Pooled]:
    grouped: dict[tuple[int, str, str], list[Result]] = {}
    for s in samples:
        if s.result is not None:
            grouped.setdefault((s.workers, s.operation, s.sink), []).append(s.result)
    return {key: _Pooled.of(results) for key, results in grouped.items()}


def _round_ratios(audit: _Pooled, none: _Pooled) -> str:
    pairs = zip(audit.rounds, none.rounds, strict=False)
    return ", ".join(f"{a.rps / n.rps:.0%}" if n.rps else "-" for a, n in pairs)


def _summary_table(samples: list[Sample], pooled: dict[tuple[int, str, str], _Pooled]) -> Table:
    table = Table(title="Audit log on vs no-op sink, pooled over the rounds", title_justify="left")
    headings = ("workers", "operation", "audit req/s", "no-op req/s", "audit / no-op",
                "per round", "audit p50", "no-op p50", "audit p99", "no-op p99")  # fmt: skip
    for heading in headings:
        table.add_column(heading, justify="left" if heading == "operation" else "right")
    seen: list[tuple[int, str]] = []
    for s in samples:
        if (s.workers, s.operation) not in seen:
            seen.append((s.workers, s.operation))
    for workers, operation in seen:
        audit = pooled.get((workers, operation, "database"))
        none = pooled.get((workers, operation, "none"))
        if audit is None or none is None:
            notes = {s.note for s in samples if (s.workers, s.operation) == (workers, operation)}
            why = "; ".join(sorted(n for n in notes if n)) or "not measured on both servers"
            table.add_row(str(workers), operation, f"[yellow]{escape(why)}[/yellow]")
            continue
        table.add_row(
            str(workers), operation, f"{audit.rps:,.0f}", f"{none.rps:,.0f}",
            f"{audit.rps / none.rps:.0%}" if none.rps else "-", _round_ratios(audit, none),
            f"{audit.p50_ms:.2f}", f"{none.p50_ms:.2f}", f"{audit.p99_ms:.2f}",
            f"{none.p99_ms:.2f}",
        )  # fmt: skip
    table.caption = (
        "req/s: all requests of every round / all their seconds. p50 and p99 (ms): the mean "
        "of the rounds' figures. 'per round': audit / no-op req/s of each round's pair."
    )
    table.caption_justify = "left"
    return table


def _cpu_summary(console: Console, samples: list[Sample], cpus: int) -> None:
    for workers in sorted({s.workers for s in samples}):
        for sink in SINKS:
            mine = [s for s in samples if (s.workers, s.sink) == (workers, sink)]
            measured = [s.result for s in mine if s.result is not None]
            if not measured:
                continue
            wall = sum(r.wall for r in measured)
            wrk = sum(r.wrk_cpu for r in measured)
            server = sum(r.server_cpu for r in measured)
            other = sum(_other(r) for r in measured)
            saturated = sum(r.machine_busy / r.wall >= SATURATED * cpus for r in measured)
            line = (
                f"CPU, {workers} worker(s), {LABELS[sink]}: wrk {wrk / wall:.2f} cores, the "
                f"server {server / wall:.2f}, other processes {other / wall:.2f}"
            )
            if saturated:
                line += (
                    f"; [yellow]{saturated} of {len(measured)} runs kept all {cpus} CPUs busy"
                    + (" (other processes too)" if other / wall > SHARED else "")
                    + ", so those figures are a floor[/yellow]"
                )
            console.print(line + ".")


def _server_log(console: Console, samples: list[Sample]) -> None:
    noisy = [s for s in samples if s.log_events]
    if not noisy:
        return
    console.print("Warnings and errors in the server's log during a run:")
    for s in noisy:
        events = ", ".join(f"{name} x{count}" for name, count in sorted(s.log_events.items()))
        console.print(
            f"  {s.workers} worker(s), round {s.round}, {s.operation}, {LABELS[s.sink]}: {events}",
            markup=False,
        )


def _chains(console: Console, verdicts: dict[tuple[int, str], dict[str, Any] | str]) -> None:
    """Show that the setting took: the audited server's chain holds, the other has no record."""
    for (workers, sink), verdict in verdicts.items():
        where = f"{workers} worker(s), {LABELS[sink]}"
        if isinstance(verdict, str):
            console.print(f"Audit chain, {where}: could not verify ({escape(verdict)})")
            continue
        holds = "holds" if verdict.get("valid") else "[bold red]BROKEN[/bold red]"
        console.print(f"Audit chain, {where}: {verdict.get('records')} records, chain {holds}")


def print_audit_report(
    samples: list[Sample],
    verdicts: dict[tuple[int, str], dict[str, Any] | str],
    load: Load,
    cpus: int,
    rounds: int,
) -> None:
    """Print every run, the pooled comparison, the CPU summary and issue 5's target."""
    console = Console(width=None if Console().is_terminal else 170)
    console.print()
    console.print(_runs_table(samples, load, cpus, rounds))
    pooled = _pooled(samples)
    console.print(_summary_table(samples, pooled))
    _cpu_summary(console, samples, cpus)
    _server_log(console, samples)
    _chains(console, verdicts)
    invalid = sorted(
        {f"{s.operation} ({LABELS[s.sink]})" for s in samples if s.result and s.result.errors}
    )
    if invalid:
        console.print(f"[bold red]INVALID (errors during the run): {', '.join(invalid)}[/bold red]")
    worker_counts = sorted({s.workers for s in samples})
    for workers in worker_counts:
        suffix = f" ({workers} worker(s))" if len(worker_counts) > 1 else ""
        audit = pooled.get((workers, ENCRYPT, "database"))
        none = pooled.get((workers, ENCRYPT, "none"))
        if audit is None or none is None or not none.rps:
            console.print(f"Issue 5, must-show 4: encrypt 1 KiB not measured{suffix}")
            continue
        share = audit.rps / none.rps
        console.print(
            f"Issue 5, must-show 4: encrypt 1 KiB with audit on at {share:.0%} of the no-op "
            f"sink (target {TARGET:.0%}){suffix}"
        )
        verdict = "meets" if share >= TARGET else "[bold red]MISSES[/bold red]"
        console.print(
            f"  {verdict} the target: {audit.rps:,.0f} vs {none.rps:,.0f} req/s; per round "
            f"{_round_ratios(audit, none)}"
        )
