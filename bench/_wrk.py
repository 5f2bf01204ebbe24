"""Run wrk with bench/wrk/post.lua and measure what it, the server and the machine spent."""

from __future__ import annotations

import json
import os
import resource
import shutil
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path

from _procs import machine_busy_seconds, tree_cpu_seconds

SCRIPT = Path(__file__).resolve().parent / "wrk" / "post.lua"
LINES_SCRIPT = Path(__file__).resolve().parent / "wrk" / "post_lines.lua"
_MARK = "WRK_JSON "


@dataclass(frozen=True)
class Load:
    """How hard to push: wrk's threads and connections, and for how long."""

    duration: float
    connections: int
    threads: int = 2
    timeout: str = "5s"


@dataclass(frozen=True)
class Result:
    """One wrk run: throughput, latency, errors, and the CPU each side used."""

    requests: int
    seconds: float
    p50_ms: float
    p99_ms: float
    non_2xx: int
    socket_errors: int
    wrk_cpu: float  # CPU seconds wrk itself used
    server_cpu: float  # CPU seconds of the server's process tree
    machine_busy: float  # CPU seconds the whole machine was busy
    wall: float  # wall seconds of the wrk process

    @property
    def rps(self) -> float:
        return self.requests / self.seconds if self.seconds else 0.0

    @property
    def errors(self) -> int:
        return self.non_2xx + self.socket_errors


def wrk_path() -> str | None:
    """Return the wrk executable, if installed."""
    return shutil.which("wrk")


def run(  # noqa: PLR0913 - the load, and which Lua script sends it
    url: str, body: Path, token: str | None, load: Load, server_pid: int, *, script: Path = SCRIPT
) -> Result:
    """Run wrk against ``url`` POSTing ``body`` (with ``script``) and return what it measured."""
    argv = [
        wrk_path() or "wrk", f"--threads={load.threads}", f"--connections={load.connections}",
        f"--duration={load.duration:g}s", f"--timeout={load.timeout}", "--script", str(script),
        url, "--", str(body),
    ]  # fmt: skip
    env = {**os.environ, "KEYSTEAD_BENCH_TOKEN": token or ""}
    # Only wrk ends between these two readings, so the RUSAGE_CHILDREN delta is wrk's own.
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_before = tree_cpu_seconds(server_pid)
    busy_before, _ = machine_busy_seconds()
    started = time.monotonic()
    done = subprocess.run(argv, capture_output=True, text=True, env=env, check=False)
    wall = time.monotonic() - started
    busy_after, _ = machine_busy_seconds()
    server_after = tree_cpu_seconds(server_pid)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if done.returncode != 0 or _MARK not in done.stdout:
        msg = f"wrk failed (status {done.returncode}):\n{done.stdout}\n{done.stderr}"
        raise RuntimeError(msg)
    figures = json.loads(done.stdout.split(_MARK, 1)[1].splitlines()[0])
    wrk_cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Result(
        requests=figures["requests"], seconds=figures["duration_us"] / 1e6,
        p50_ms=figures["p50_us"] / 1000, p99_ms=figures["p99_us"] / 1000,
        non_2xx=figures["status"],
        socket_errors=sum(figures[k] for k in ("connect", "read", "write", "timeout")),
        wrk_cpu=wrk_cpu, server_cpu=server_after - server_before,
        machine_busy=busy_after - busy_before, wall=wall,
    )  # fmt: skip
