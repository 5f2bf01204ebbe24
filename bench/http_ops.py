"""Keystead over HTTPS under wrk: requests/s and p50/p99 latency per operation, beside baselines.

Starts a real `keystead server --dev` (TLS, SQLite in a temporary directory), creates keys
through the API, and drives each operation with wrk (64 connections, 2 threads) and a Lua
script. In the same run, with the same certificate, uvicorn settings, workers and connections,
it measures a bare Starlette echo and a raw ASGI echo of the same body (bench/baselines.py),
and prints each operation as a ratio of both. It also prints the CPU wrk, the server and every
other process used, so a reader can tell whether the load generator was the bottleneck.

With --audit-compare it measures instead what the audit log costs (issue 5, must-show 4): two
dev servers, one with the audit log on and one with KEYSTEAD_AUDIT_SINK=none (records nothing),
with the same certificate, workers and load; encrypt, decrypt and sign ED25519 run under wrk in
alternating rounds (audit on, no-op, audit on, no-op, ...), and it prints both and the ratio.

usage: .venv/bin/python bench/http_ops.py [--duration 10] [--connections 64] [--workers 1,2]
                                           [--quick] [--threads 2] [--settle 1] [--keep]
                                           [--audit-compare [--rounds 2]]
Needs wrk (apt-get install -y wrk); exits 2 without it, 1 if a server fails to start.
"""

from __future__ import annotations

import argparse
import os
import shutil
import ssl
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import _keystead
import _procs
import _wrk
from _audit_report import LABELS, SINKS, Sample, print_audit_report
from _report import Row, print_report

from keystead.crypto.certificates import ensure_dev_certificates

HERE = Path(__file__).resolve().parent
PYTHON = sys.executable
NO_WRK = (
    "wrk is not installed. Install it with:\n"
    "    apt-get install -y wrk\n"
    "(bench/http_ops.py installs nothing itself.)"
)
WORKERS_MISSING = (
    "not supported by the server yet (issue 3 note): `keystead server` has no --workers"
)
AUDIT_OPERATIONS = ("encrypt 1 KiB", "decrypt 1 KiB", "sign ED25519")


@dataclass(frozen=True)
class Plan:
    """What to run: the load, the worker counts, and where temporary files go."""

    load: _wrk.Load
    workers: tuple[int, ...]
    root: Path
    settle: float = 1.0

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def cert(self) -> Path:
        return self.data_dir / "tls" / "server.pem"

    @property
    def key(self) -> Path:
        return self.data_dir / "tls" / "server-key.pem"

    @property
    def echo_body(self) -> Path:
        return self.root / "echo.json"


def _measure(
    server: _procs.Server, url: str, body: Path, token: str | None, plan: Plan
) -> tuple[_wrk.Result, dict[str, int]]:
    """Run wrk once; return its result and the warnings and errors the server logged."""
    offset = server.log_size()
    result = _wrk.run(url, body, token, plan.load, server.pid)
    # Let requests wrk left in flight finish, so the next run starts on an idle server.
    time.sleep(plan.settle)
    _procs.wait_idle(server.pid)
    server.check_alive()
    return result, dict(server.log_events(offset))


def _bench_keystead(plan: Plan, workers: int) -> list[Row]:
    keystead = _keystead.start_keystead(plan.data_dir, plan.root, workers)
    try:
        print(f"  keystead ({workers} worker(s)) at {keystead.address}: creating keys")
        operations = _keystead.prepare(keystead, plan.root / f"bodies-w{workers}", plan.echo_body)
        rows = []
        for op in operations:
            if op.body is None:
                print(f"  {op.name}: skipped ({op.skipped})")
                rows.append(Row(workers, op.name, None, note=op.skipped, items=op.items))
                continue
            print(f"  {op.name} ...", flush=True)
            result, events = _measure(keystead.server, keystead.address + op.path, op.body,
                                      keystead.token, plan)  # fmt: skip
            rows.append(Row(workers, op.name, result, items=op.items, log_events=events))
        return rows
    finally:
        keystead.server.stop()


def _bench_baseline(plan: Plan, kind: str, workers: int) -> Row:
    port = _procs.free_port()
    argv = [PYTHON, str(HERE / "baselines.py"), kind, "--port", str(port), "--cert",
            str(plan.cert), "--key", str(plan.key), "--workers", str(workers)]  # fmt: skip
    server = _procs.start(f"{kind}-w{workers}", argv, plan.root)
    try:
        url = f"https://127.0.0.1:{port}/echo"
        tls = _ssl_context(plan)
        _procs.wait_until_serving(server, url, tls)
        print(f"  {kind} echo ({workers} worker(s)) ...", flush=True)
        # The same headers as Keystead's requests, token included, so the bytes match.
        result, events = _measure(server, url, plan.echo_body, "kst_baseline_unchecked", plan)
        return Row(workers, f"baseline: {kind} echo", result, baseline=kind, log_events=events)
    finally:
        server.stop()


def _ssl_context(plan: Plan) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(plan.data_dir / "tls" / "ca.pem"))


def run(plan: Plan) -> list[Row]:
    """Measure every worker count in ``plan`` and return the rows of the report."""
    can_scale = _keystead.supports_workers()
    rows: list[Row] = []
    for workers in plan.workers:
        print(f"[{workers} worker(s)]", flush=True)
        rows.append(_bench_baseline(plan, "starlette", workers))
        rows.append(_bench_baseline(plan, "asgi", workers))
        if workers == 1 or can_scale:
            rows.extend(_bench_keystead(plan, workers))
        else:
            print(f"  keystead: {WORKERS_MISSING}")
            rows.append(Row(workers, "keystead (every operation)", None, note=WORKERS_MISSING))
    return rows


def _start_sink(
    plan: Plan, workers: int, sink: str
) -> tuple[_keystead.Keystead, dict[str, _keystead.Operation]]:
    """Start a dev server with ``KEYSTEAD_AUDIT_SINK=sink`` and prepare the compared operations."""
    data_dir = plan.root / f"data-{sink}-w{workers}"
    data_dir.mkdir(mode=0o700)
    # The run's one certificate, so both servers do the same TLS work.
    shutil.copytree(plan.data_dir / "tls", data_dir / "tls")
    keystead = _keystead.start_keystead(data_dir, plan.root, workers,
                                        env={"KEYSTEAD_AUDIT_SINK": sink},
                                        name=f"keystead-{sink}-w{workers}")  # fmt: skip
    print(f"  keystead ({workers} worker(s), {LABELS[sink]}) at {keystead.address}: creating keys")
    body_dir = plan.root / f"bodies-{sink}-w{workers}"
    operations = _keystead.prepare(keystead, body_dir, plan.echo_body)
    return keystead, {op.name: op for op in operations if op.name in AUDIT_OPERATIONS}


def _compare_audit(
    plan: Plan, workers: int, rounds: int
) -> tuple[list[Sample], dict[tuple[int, str], dict[str, Any] | str]]:
    """Run each operation on both servers in alternating rounds; then verify both chains."""
    servers: dict[str, tuple[_keystead.Keystead, dict[str, _keystead.Operation]]] = {}
    try:
        for sink in SINKS:
            servers[sink] = _start_sink(plan, workers, sink)
        samples: list[Sample] = []
        for round_ in range(1, rounds + 1):
            for name in AUDIT_OPERATIONS:
                for sink in SINKS:
                    keystead, operations = servers[sink]
                    op = operations.get(name)
                    if op is None or op.body is None:
                        if round_ == 1:
                            why = op.skipped if op else "not offered by the server"
                            print(f"  {name}, {LABELS[sink]}: skipped ({why})")
                            samples.append(Sample(workers, name, sink, round_, None, note=why))
                        continue
                    print(f"  round {round_}: {name}, {LABELS[sink]} ...", flush=True)
                    result, events = _measure(keystead.server, keystead.address + op.path,
                                              op.body, keystead.token, plan)  # fmt: skip
                    samples.append(Sample(workers, name, sink, round_, result, log_events=events))
        print("  verifying both audit chains ...", flush=True)
        verdicts = {(workers, sink): _keystead.verify_audit(keystead)
                    for sink, (keystead, _) in servers.items()}  # fmt: skip
        return samples, verdicts
    finally:
        for keystead, _ in servers.values():
            keystead.server.stop()


def run_audit_compare(
    plan: Plan, rounds: int
) -> tuple[list[Sample], dict[tuple[int, str], dict[str, Any] | str]]:
    """Compare audit on with the no-op sink for every worker count in ``plan``."""
    can_scale = _keystead.supports_workers()
    samples: list[Sample] = []
    verdicts: dict[tuple[int, str], dict[str, Any] | str] = {}
    for workers in plan.workers:
        print(f"[{workers} worker(s): audit on vs no-op sink, {rounds} round(s)]", flush=True)
        if workers > 1 and not can_scale:
            print(f"  keystead: {WORKERS_MISSING}")
            samples.extend(Sample(workers, name, SINKS[0], 1, None, note=WORKERS_MISSING)
                           for name in AUDIT_OPERATIONS)  # fmt: skip
            continue
        measured, checked = _compare_audit(plan, workers, rounds)
        samples.extend(measured)
        verdicts.update(checked)
    return samples, verdicts


def _parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--duration", type=float, default=10.0, help="seconds per operation")
    parser.add_argument("--connections", type=int, default=64)
    parser.add_argument("--threads", type=int, default=2, help="wrk threads")
    parser.add_argument("--workers", default="1,2", help="comma-separated worker counts")
    parser.add_argument("--quick", action="store_true", help="3 s per operation")
    parser.add_argument(
        "--settle", type=float, default=1.0, help="seconds to let the server drain between runs"
    )
    parser.add_argument("--keep", action="store_true", help="keep the temporary directory")
    parser.add_argument(
        "--audit-compare", action="store_true",
        help="instead of the usual run: audit log on vs KEYSTEAD_AUDIT_SINK=none (issue 5)",
    )  # fmt: skip
    parser.add_argument(
        "--rounds", type=int, default=2, help="with --audit-compare: rounds of both servers"
    )
    args = parser.parse_args(argv)
    if args.rounds < 1:
        parser.error("--rounds takes a positive integer")
    try:
        args.worker_counts = tuple(int(n) for n in args.workers.split(",") if n.strip())
    except ValueError:
        parser.error("--workers takes comma-separated integers, e.g. 1,2")
    if not args.worker_counts or min(args.worker_counts) < 1:
        parser.error("--workers takes positive integers")
    return args


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; 0 when it completed, 1 when a server failed, 2 without wrk."""
    args = _parse_args(argv)
    if _wrk.wrk_path() is None:
        print(NO_WRK, file=sys.stderr)
        return 2
    duration = 3.0 if args.quick else args.duration
    root = Path(tempfile.mkdtemp(prefix="keystead-bench-"))
    root.chmod(0o700)
    load = _wrk.Load(duration, args.connections, args.threads)
    plan = Plan(load, args.worker_counts, root, args.settle)
    print(f"wrk: {args.threads} threads, {args.connections} connections, {duration:g} s per "
          f"operation; {os.cpu_count()} CPUs; temporary files in {root}")  # fmt: skip
    # One certificate for every server of the run; keystead --dev keeps a valid existing one.
    ensure_dev_certificates(plan.data_dir, hosts=("127.0.0.1", "localhost", "::1"))
    _keystead.write_echo_body(plan.echo_body)
    try:
        if args.audit_compare:
            samples, verdicts = run_audit_compare(plan, args.rounds)
        else:
            rows = run(plan)
    except _procs.ServerFailedError as error:
        print(f"\nA server failed:\n{error}", file=sys.stderr)
        return 1
    finally:
        _procs.stop_all()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    if args.audit_compare:
        print_audit_report(samples, verdicts, plan.load, os.cpu_count() or 1, args.rounds)
    else:
        print_report(rows, plan.load, os.cpu_count() or 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
