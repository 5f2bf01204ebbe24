"""Logins bounded by Argon2id, and what a token check adds to an encrypt (issue 4, must-show 6).

(a) Starts a real `keystead server --dev` (TLS, SQLite in a temporary directory, one
worker), creates a key-user, and drives POST /v1/auth/login with the right password under
wrk for a fixed time: logins/s and p50/p99. Beside it, the in-process cost of one
PasswordHasher.verify at the same Argon2id parameters (the server's settings:
KEYSTEAD_ARGON2_* or the defaults), alone and on one thread per CPU at once, so logins/s
reads against the bound "CPUs / hash time", and the server's CPU per login against one
hash. Then single logins one at a time, interleaved: wrong password, unknown user (checked
against a decoy hash) and right password, with their medians and the wrong/unknown ratio.

(b) In the same server run, after a short warm-up, encrypt 1 KiB under wrk with the root
token and with the key-user's login token (authorised by a grant on the key), alternating
over two rounds. And in process (measured first, before the server starts), on services from
build_services() in a temporary directory: crypto.encrypt alone against
tokens.authenticate(token) + crypto.encrypt, in microseconds per call, while every call into
argon2-cffi's PasswordHasher is counted.

The dev server runs with KEYSTEAD_ADDRESS_LOCKOUT_THRESHOLD=100000: every failed login
also counts against 127.0.0.1, and the default (slowed from 50) would have the failure
samples measure the throttle rather than Argon2. Per-name throttling keeps its defaults.
Benchmarks print figures and assert nothing; a busy machine is flagged, not hidden.

usage: .venv/bin/python bench/auth.py [--duration 10] [--connections 64]
                                       [--login-connections 16] [--threads 2] [--quick] [--keep]
Needs wrk (apt-get install -y wrk); exits 2 without it, 1 if the server fails or misbehaves.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from statistics import median

import _auth_setup as setup
import _keystead
import _procs
import _wrk
from rich.console import Console
from rich.table import Table

from keystead.crypto.passwords import Argon2Parameters

LOGIN = "login, right password"
SHARED = 0.1  # cores used by other processes above which the machine was not ours alone
NO_WRK = (
    "wrk is not installed. Install it with:\n"
    "    apt-get install -y wrk\n"
    "(bench/auth.py installs nothing itself.)"
)


@dataclass(frozen=True)
class Size:
    """How much to measure: wrk's load, and the counts of the sequential and in-process parts."""

    duration: float
    connections: int
    login_connections: int
    threads: int
    hash_rounds: int
    login_rounds: int
    calls: int
    miss_calls: int


@dataclass(frozen=True)
class Measured:
    """One wrk run and the warnings and errors the server logged during it."""

    name: str
    connections: int
    result: _wrk.Result
    events: dict[str, int]
    round: int = 0


@dataclass(frozen=True)
class Figures:
    """Everything the report prints."""

    parameters: Argon2Parameters
    cost: setup.HashCost
    check: setup.TokenCheck
    runs: list[Measured]
    latency: setup.LoginLatency
    parallel: setup.ParallelRate


def _wrk_run(  # noqa: PLR0913 - the wrk run, and which Lua script sends it
    keystead: _keystead.Keystead, path: str, body: Path, token: str | None, load: _wrk.Load,
    *, script: Path = _wrk.SCRIPT,
) -> tuple[_wrk.Result, dict[str, int]]:  # fmt: skip
    server = keystead.server
    offset = server.log_size()
    result = _wrk.run(keystead.address + path, body, token, load, server.pid, script=script)
    time.sleep(1.0)  # let requests wrk left in flight finish before the next run
    _procs.wait_idle(server.pid)
    server.check_alive()
    return result, dict(server.log_events(offset))


ROOT, USER = "encrypt 1 KiB, root token", "encrypt 1 KiB, key-user token (grant)"
ROUNDS = 2  # alternating root / key-user runs, so a drift in the machine hits both


def _encrypt_runs(keystead: _keystead.Keystead, accounts: setup.Accounts, body: Path,
                  size: Size) -> list[Measured]:  # fmt: skip
    path = f"/v1/keys/{accounts.key_id}/encrypt"
    load = _wrk.Load(size.duration, size.connections, size.threads)
    print(f"  encrypt 1 KiB warm-up: wrk {min(size.duration, 3.0):g} s (not reported) ...")
    warm_up = _wrk.Load(min(size.duration, 3.0), size.connections, size.threads)
    _wrk_run(keystead, path, body, keystead.token, warm_up)
    runs = []
    for number in range(1, ROUNDS + 1):
        for name, token in ((ROOT, keystead.token), (USER, accounts.user_token)):
            print(f"  {name}, round {number}: wrk {size.connections} connections ...", flush=True)
            result, events = _wrk_run(keystead, path, body, token, load)
            runs.append(Measured(name, size.connections, result, events, number))
    return runs


def _over_https(
    root: Path, size: Size, parameters: Argon2Parameters
) -> tuple[list[Measured], setup.LoginLatency, setup.ParallelRate]:
    keystead = setup.start_server(root / "data", root)
    try:
        print(f"  keystead at {keystead.address}: creating a key-user, a key and a grant")
        encrypt_body = _keystead.write_echo_body(root / "encrypt.json")
        accounts = setup.create_accounts(keystead, encrypt_body)
        # One user per connection: attempts at one name are taken one at a time.
        names = setup.create_login_users(keystead, accounts.password, size.login_connections)
        login_body = root / "logins.jsonl"
        lines = [json.dumps({"username": n, "password": accounts.password}) for n in names]
        login_body.write_text("\n".join(lines) + "\n", encoding="ascii")
        load = _wrk.Load(size.duration, size.login_connections, size.threads)
        print(f"  {LOGIN}: wrk {load.connections} connections, {len(names)} users ...", flush=True)
        result, events = _wrk_run(
            keystead, "/v1/auth/login", login_body, None, load, script=_wrk.LINES_SCRIPT
        )
        runs = [Measured(LOGIN, load.connections, result, events)]
        threads = os.cpu_count() or 1
        print(f"  PasswordHasher.verify in process on {threads} threads at once ...")
        parallel = setup.parallel_rate(parameters, threads, size.hash_rounds, keystead.server.pid)
        print(f"  single logins, {size.login_rounds} x (wrong, unknown user, right) ...")
        latency = setup.login_latency(keystead, accounts, size.login_rounds)
        runs += _encrypt_runs(keystead, accounts, encrypt_body, size)
        return runs, latency, parallel
    finally:
        keystead.server.stop()


def measure(root: Path, size: Size) -> Figures:
    """Run every part: raw Argon2 cost, the in-process token check, then the server."""
    parameters = setup.argon2_parameters()
    print(f"  PasswordHasher.verify in process, {size.hash_rounds} x (right, wrong, decoy) ...")
    cost = setup.hash_cost(parameters, size.hash_rounds)
    print(f"  token check beside encrypt in process, {size.calls:,} calls each ...", flush=True)
    check = setup.token_check(root / "in-process", size.calls, size.miss_calls)
    runs, latency, parallel = _over_https(root, size, parameters)
    return Figures(parameters, cost, check, runs, latency, parallel)


# --- the report ------------------------------------------------------------------------


def _cores(seconds: float, wall: float) -> str:
    return f"{seconds / wall:.2f}" if wall else "-"


def _other(result: _wrk.Result) -> float:
    return max(0.0, result.machine_busy - result.wrk_cpu - result.server_cpu)


def _http_table(figures: Figures, size: Size, cpus: int) -> Table:
    table = Table(
        title=f"Keystead over HTTPS: wrk {size.threads} threads, {size.duration:g} s per run, "
        f"1 server worker ({cpus} CPUs)",
        title_justify="left",
    )
    for heading in ("operation", "connections", "req/s", "p50 ms", "p99 ms", "errors",
                    "server CPU", "wrk CPU", "other CPU"):  # fmt: skip
        table.add_column(heading, justify="left" if heading == "operation" else "right")
    for run in figures.runs:
        result = run.result
        errors = f"[bold red]{result.errors} INVALID[/bold red]" if result.errors else "0"
        name = f"{run.name}, round {run.round}" if run.round else run.name
        table.add_row(
            name, str(run.connections), f"{result.rps:,.1f}", f"{result.p50_ms:.2f}",
            f"{result.p99_ms:.2f}", errors, _cores(result.server_cpu, result.wall),
            _cores(result.wrk_cpu, result.wall), _cores(_other(result), result.wall),
        )  # fmt: skip
    table.caption = (
        "CPU columns are cores in use on average (CPU seconds / wall seconds): the server's "
        "process tree, wrk, and every other process on the machine. Errors are non-2xx "
        "responses plus socket errors and timeouts; any error makes a row invalid."
    )
    table.caption_justify = "left"
    return table


def _cost_table(figures: Figures) -> Table:
    p, cost, latency, check = figures.parameters, figures.cost, figures.latency, figures.check
    table = Table(
        title=f"Argon2id at {p.memory_kib // 1024} MiB, t={p.time_cost}, p={p.parallelism}; "
        "token checks in process",
        title_justify="left",
    )
    for heading in ("measurement", "median", "min", "per second", "samples"):
        table.add_column(heading, justify="left" if heading == "measurement" else "right")
    for name, samples in (
        ("PasswordHasher.verify, right password (one core)", cost.right),
        ("PasswordHasher.verify, wrong password", cost.wrong),
        ("PasswordHasher.verify, no hash (the decoy)", cost.decoy),
        ("HTTPS login, right password, one at a time", latency.right),
        ("HTTPS login, wrong password", latency.wrong),
        ("HTTPS login, unknown user", latency.unknown),
    ):
        ms = median(samples)
        table.add_row(name, f"{ms:.2f} ms", f"{min(samples):.2f} ms", f"{1000 / ms:,.1f}",
                      str(len(samples)))  # fmt: skip
    rate = figures.parallel
    name = f"PasswordHasher.verify, {rate.threads} threads ({rate.cores:.2f} cores used)"
    table.add_row(name, "", "", f"{rate.per_second:,.1f}", str(rate.threads * cost.rounds))
    for name, loop, calls in (
        ("crypto.encrypt 1 KiB alone (root principal)", "root", check.calls),
        ("crypto.encrypt 1 KiB alone (user principal)", "encrypt", check.calls),
        ("tokens.authenticate + crypto.encrypt 1 KiB", "check_encrypt", check.calls),
        ("tokens.authenticate alone (cached)", "check", check.calls),
        ("tokens.authenticate, cache emptied first", "miss", check.miss_calls),
    ):
        us = check.median[loop]
        table.add_row(name, f"{us:,.1f} µs", f"{check.best[loop]:,.1f} µs", f"{1e6 / us:,.0f}",
                      f"{calls:,}")  # fmt: skip
    table.caption = (
        "Argon2 and HTTPS rows: single calls. In-process token rows: µs per call of blocks of "
        f"{check.block} calls ({setup.MISS_BLOCK} with the cache emptied), interleaved on one "
        "event loop (SQLite, no network); median and fastest block."
    )
    table.caption_justify = "left"
    return table


@dataclass(frozen=True)
class Combined:
    """The rounds of one operation together: req/s over all, mean p50, and any errors."""

    rps: float
    p50_ms: float
    errors: int


def _combined(runs: list[Measured], name: str) -> Combined:
    chosen = [run.result for run in runs if run.name == name]
    seconds = sum(r.seconds for r in chosen)
    return Combined(
        sum(r.requests for r in chosen) / seconds if seconds else 0.0,
        sum(r.p50_ms for r in chosen) / len(chosen), sum(r.errors for r in chosen),
    )  # fmt: skip


def _logins(console: Console, figures: Figures, cpus: int) -> None:
    cost, latency = figures.cost, figures.latency
    login = figures.runs[0]
    result = login.result
    bound = cpus * cost.per_core
    cpu_ms = result.server_cpu / result.requests * 1000 if result.requests else 0.0
    console.print(
        f"  (a) logins: {result.rps:,.1f}/s (p50 {result.p50_ms:.0f} ms, p99 "
        f"{result.p99_ms:.0f} ms) from {login.connections} clients. One verify takes "
        f"{cost.right_ms:.1f} ms in process ({cost.per_core:,.1f} hashes/s on one core, "
        f"{cost.cpu_per_wall:.2f} CPU s per wall s), so {cpus} cores / hash time = "
        f"{bound:,.1f} logins/s; measured / bound = {result.rps / bound:.2f}. The server used "
        f"{_cores(result.server_cpu, result.wall)} cores, {cpu_ms:.1f} CPU ms per login, of "
        f"which one verify is {cost.right_ms:.1f} ({cost.right_ms / cpu_ms:.0%}). "
        f"Verifying on {figures.parallel.threads} threads at once in process (right after, "
        f"server idle) ran {figures.parallel.per_second:,.1f} hashes/s on "
        f"{figures.parallel.cores:.2f} cores: logins / that = "
        f"{result.rps / figures.parallel.per_second:.2f}."
    )
    _shared(console, [login])
    _busy(console, figures.parallel.other_cores, "during the threaded verifies")
    wrong, unknown = median(latency.wrong), median(latency.unknown)
    least = min(latency.wrong) / min(latency.unknown)
    console.print(
        f"  (a) one at a time: wrong password {wrong:.2f} ms, unknown user {unknown:.2f} ms "
        f"(medians of {len(latency.wrong)}): wrong / unknown = {wrong / unknown:.3f} "
        f"({least:.3f} for the minima); right password {median(latency.right):.2f} ms. In "
        f"process: {median(cost.wrong):.2f} ms wrong vs {median(cost.decoy):.2f} ms decoy."
    )
    _busy(console, latency.other_cores, "during the single logins")
    if latency.unexpected:
        console.print(f"  [bold red]unexpected login answers: {latency.unexpected[:3]}[/bold red]")


def _shared(console: Console, runs: list[Measured]) -> None:
    other = sum(_other(r.result) for r in runs) / sum(r.result.wall for r in runs)
    _busy(console, other, "meanwhile")


def _busy(console: Console, other: float, when: str) -> None:
    if other > SHARED:
        console.print(
            f"      [yellow]other processes used {other:.2f} cores {when}: the machine was "
            "shared, so these figures are a floor.[/yellow]"
        )


def _token_checks(console: Console, figures: Figures) -> None:
    cost, check = figures.cost, figures.check
    us = check.median
    as_root, as_user = _combined(figures.runs, ROOT), _combined(figures.runs, USER)
    invalid = " [bold red](INVALID: errors)[/bold red]" if as_root.errors + as_user.errors else ""
    console.print(
        f"  (b) encrypt 1 KiB over {ROUNDS} rounds: key-user token {as_user.rps:,.0f} req/s, "
        f"p50 {as_user.p50_ms:.2f} ms; root token {as_root.rps:,.0f} req/s, p50 "
        f"{as_root.p50_ms:.2f} ms; key-user / root = {as_user.rps / as_root.rps:.2f} (req/s), "
        f"{as_user.p50_ms / as_root.p50_ms:.2f} (p50).{invalid}"
    )
    _shared(console, figures.runs[1:])
    added = us["check_encrypt"] - us["encrypt"]
    console.print(
        f"  (b) in process: encrypt {us['encrypt']:.1f} µs (root principal "
        f"{us['root']:.1f} µs), token check + encrypt {us['check_encrypt']:.1f} "
        f"µs: the check adds {added:.1f} µs per call ({us['check']:.1f} µs alone; "
        f"{us['miss']:,.0f} µs when the cache is emptied first), against "
        f"{cost.right_ms * 1000:,.0f} µs for one Argon2 verify."
    )
    console.print(
        f"  Argon2 verifications during token checks: {check.argon2_during_checks.verify}"
    )
    console.print(
        f"  (Argon2 hashes during token checks: {check.argon2_during_checks.hash}; the same "
        f"counter saw {check.argon2_during_login.verify} verification(s) during one login.)"
    )


def _server_log(console: Console, runs: list[Measured]) -> None:
    for run in runs:
        if run.events:
            events = ", ".join(f"{name} x{n}" for name, n in sorted(run.events.items()))
            name = f"{run.name}, round {run.round}" if run.round else run.name
            console.print(f"  server log during {name}: {events}", markup=False)


def print_report(figures: Figures, size: Size) -> None:
    """Print both tables and the must-show lines."""
    cpus = os.cpu_count() or 1
    console = Console(width=None if Console().is_terminal else 170)
    console.print()
    console.print(_http_table(figures, size, cpus))
    console.print(_cost_table(figures))
    _server_log(console, figures.runs)
    console.print("Issue 4, must-show 6:")
    _logins(console, figures, cpus)
    _token_checks(console, figures)


# --- the command -----------------------------------------------------------------------


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per wrk run")
    parser.add_argument("--connections", type=int, default=64, help="for encrypt")
    parser.add_argument("--login-connections", type=int, default=16, help="for login")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--quick", action="store_true", help="3 s runs and fewer samples")
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    return parser.parse_args(argv)


def _size(args: argparse.Namespace) -> Size:
    if args.quick:
        return Size(3.0, args.connections, args.login_connections, args.threads,
                    hash_rounds=10, login_rounds=20, calls=5000, miss_calls=500)  # fmt: skip
    return Size(args.duration, args.connections, args.login_connections, args.threads,
                hash_rounds=30, login_rounds=60, calls=20000, miss_calls=2000)  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 0 when it completed, 1 when the server failed, 2 without wrk."""
    args = _parse_args(argv)
    if _wrk.wrk_path() is None:
        print(NO_WRK, file=sys.stderr)
        return 2
    size = _size(args)
    root = Path(tempfile.mkdtemp(prefix="keystead-bench-auth-"))
    root.chmod(0o700)
    print(f"{os.cpu_count()} CPUs; temporary files in {root}", flush=True)
    try:
        figures = measure(root, size)
    except (_procs.ServerFailedError, RuntimeError) as error:
        print(f"\nThe server failed or misbehaved:\n{error}", file=sys.stderr)
        return 1
    finally:
        _procs.stop_all()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    print_report(figures, size)
    return 0


if __name__ == "__main__":
    sys.exit(main())
