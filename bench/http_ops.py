"""Keystead over HTTPS under wrk: requests/s and p50/p99 latency per operation, beside baselines.

Starts a real `keystead server --dev` (TLS, SQLite in a temporary directory), creates keys
through the API, and drives each operation with wrk (64 connections, 2 threads) and a Lua
script. In the same run, with the same certificate, uvicorn settings, workers and connections,
it measures a bare Starlette echo and a raw ASGI echo of the same body (bench/baselines.py),
and prints each operation as a ratio of both. It also prints the CPU wrk, the server and every
other process used, so a reader can tell whether the load generator was the bottleneck.

usage: .venv/bin/python bench/http_ops.py [--duration 10] [--connections 64] [--workers 1,2]
                                           [--quick] [--threads 2] [--settle 1] [--keep]
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

import _keystead
import _procs
import _wrk
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
    args = parser.parse_args(argv)
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
        rows = run(plan)
    except _procs.ServerFailedError as error:
        print(f"\nA server failed:\n{error}", file=sys.stderr)
        return 1
    finally:
        _procs.stop_all()
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    print_report(rows, plan.load, os.cpu_count() or 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
