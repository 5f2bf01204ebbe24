"""The printed report: one table of operations beside their baselines, then where the CPU went."""

from __future__ import annotations

from dataclasses import dataclass, field

from _wrk import Load, Result
from rich.console import Console
from rich.markup import escape
from rich.table import Table

ENCRYPT = "encrypt 1 KiB"
SATURATED = 0.95  # share of all cores busy above which wrk and the server compete for CPU
SHARED = 0.1  # cores used by other processes above which the machine was not ours alone


@dataclass(frozen=True)
class Row:
    """One line of the report: a measured operation, or one that could not be measured."""

    workers: int
    name: str
    result: Result | None
    note: str = ""
    baseline: str | None = None  # "starlette" or "asgi" for the baselines
    items: int = 1
    log_events: dict[str, int] = field(default_factory=dict)  # server warnings/errors logged


def _other(result: Result) -> float:
    """CPU seconds the rest of the machine used: neither wrk nor the server."""
    return max(0.0, result.machine_busy - result.wrk_cpu - result.server_cpu)


def _cores(seconds: float, wall: float) -> str:
    return f"{seconds / wall:.2f}" if wall else "-"


def _ratio(value: float, base: Row | None) -> str:
    if base is None or base.result is None or not base.result.rps:
        return "-"
    return f"{value / base.result.rps:.2f}"


def _table(rows: list[Row], load: Load, cpus: int) -> Table:
    table = Table(
        title=f"Keystead over HTTPS: wrk {load.threads} threads, {load.connections} connections, "
        f"{load.duration:g} s per operation ({cpus} CPUs)",
        title_justify="left",
    )
    for heading in ("workers", "operation", "req/s", "p50 ms", "p99 ms", "errors"):
        table.add_column(heading, justify="left" if heading == "operation" else "right")
    for heading in ("x Starlette", "x ASGI", "wrk CPU", "server CPU", "other CPU"):
        table.add_column(heading, justify="right")
    baselines = {(r.workers, r.baseline): r for r in rows if r.baseline}
    for row in rows:
        result = row.result
        if result is None:
            table.add_row(str(row.workers), row.name, f"[yellow]{escape(row.note)}[/yellow]")
            continue
        errors = f"[bold red]{result.errors} INVALID[/bold red]" if result.errors else "0"
        name = row.name
        if row.items > 1:
            name += f" ({result.rps * row.items:,.0f} items/s)"
        table.add_row(
            str(row.workers), name, f"{result.rps:,.0f}", f"{result.p50_ms:.2f}",
            f"{result.p99_ms:.2f}", errors,
            _ratio(result.rps, baselines.get((row.workers, "starlette"))),
            _ratio(result.rps, baselines.get((row.workers, "asgi"))),
            _cores(result.wrk_cpu, result.wall), _cores(result.server_cpu, result.wall),
            _cores(_other(result), result.wall),
        )  # fmt: skip
    table.caption = (
        "CPU columns are cores in use on average over the run (CPU seconds / wall seconds): "
        "wrk itself, the server's process tree, and every other process on the machine. "
        "Errors are non-2xx responses plus socket errors and timeouts; any error makes that "
        "row invalid."
    )
    table.caption_justify = "left"
    return table


def _cpu_summary(console: Console, rows: list[Row], cpus: int) -> None:
    for workers in sorted({r.workers for r in rows}):
        measured = [r.result for r in rows if r.workers == workers and r.result is not None]
        if not measured:
            continue
        wall = sum(r.wall for r in measured)
        wrk = sum(r.wrk_cpu for r in measured)
        busy = sum(r.machine_busy for r in measured)
        server = sum(r.server_cpu for r in measured)
        other = sum(_other(r) for r in measured)
        peak = max(r.wrk_cpu / r.wall for r in measured)
        console.print(
            f"wrk CPU share, {workers} worker(s): wrk used {wrk / wall:.2f} cores on average "
            f"(peak {peak:.2f}) = {wrk / wall / cpus:.0%} of the {cpus}-CPU machine and "
            f"{wrk / busy:.0%} of the busy CPU; the servers used {server / wall:.2f} cores, "
            f"other processes {other / wall:.2f}."
        )
        saturated = [r for r in measured if r.machine_busy / r.wall >= SATURATED * cpus]
        if saturated:
            console.print(
                f"  [yellow]{len(saturated)} of {len(measured)} runs kept all {cpus} CPUs busy: "
                "the server shared the CPUs with wrk"
                + (" and with other processes" if other / wall > SHARED else "")
                + ", so those figures are a floor.[/yellow]"
            )


def _must_show(console: Console, rows: list[Row]) -> None:
    by_key = {(r.workers, r.name): r for r in rows}
    console.print("Issue 3, must-show 7 (the targets are for 2 workers):")
    for workers in sorted({r.workers for r in rows}, reverse=True):
        encrypt = by_key.get((workers, ENCRYPT))
        echo = by_key.get((workers, "baseline: starlette echo"))
        if encrypt is None or encrypt.result is None or echo is None or echo.result is None:
            console.print(f"  {workers} worker(s): encrypt 1 KiB not measured")
            continue
        share = encrypt.result.rps / echo.result.rps
        verdict = "meets" if share >= 0.5 else "MISSES"
        console.print(
            f"  {workers} worker(s): encrypt 1 KiB at {share:.0%} of the Starlette echo's "
            f"req/s ({verdict} the 50% target)"
        )
        batch = next((r for r in rows if r.workers == workers and r.items > 1), None)
        if batch is None or batch.result is None:
            why = batch.note if batch else "not run"
            console.print(f"  {workers} worker(s): batch encrypt of 100: {why}")
        else:
            gain = batch.result.rps * batch.items / encrypt.result.rps
            verdict = "meets" if gain >= 10 else "MISSES"
            console.print(
                f"  {workers} worker(s): batch encrypt {gain:.1f}x single encrypt's items/s "
                f"({verdict} the 10x target)"
            )


def _server_log(console: Console, rows: list[Row]) -> None:
    noisy = [r for r in rows if r.log_events]
    if not noisy:
        return
    console.print(
        "Warnings and errors in the server's log from the start of each run until the server "
        "was idle again (requests wrk gave up on finish then; wrk's error count misses them):"
    )
    for row in noisy:
        events = ", ".join(f"{name} x{count}" for name, count in sorted(row.log_events.items()))
        console.print(f"  {row.workers} worker(s), {row.name}: {events}", markup=False)


def print_report(rows: list[Row], load: Load, cpus: int) -> None:
    """Print the table, the CPU summary and the issue's targets."""
    console = Console(width=None if Console().is_terminal else 170)
    console.print()
    console.print(_table(rows, load, cpus))
    _cpu_summary(console, rows, cpus)
    _server_log(console, rows)
    invalid = [r.name for r in rows if r.result is not None and r.result.errors]
    if invalid:
        console.print(f"[bold red]INVALID (errors during the run): {', '.join(invalid)}[/bold red]")
    _must_show(console, rows)
