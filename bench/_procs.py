"""Processes for the benchmark: free ports, servers with logs, readiness, CPU, clean stops."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import ssl
import subprocess
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx

_TICKS = os.sysconf("SC_CLK_TCK")
_STARTED: list[Server] = []


class ServerFailedError(RuntimeError):
    """A server process exited or never answered; the message holds its log."""


def free_port() -> int:
    """Return a TCP port on 127.0.0.1 that nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


@dataclass
class Server:
    """A server process started by the benchmark, in its own process group."""

    name: str
    process: subprocess.Popen[bytes]
    stdout: Path
    stderr: Path
    started: float = field(default_factory=time.monotonic)

    @property
    def pid(self) -> int:
        return self.process.pid

    def log(self, limit: int = 6000) -> str:
        """Return the tail of its stdout and stderr."""
        parts = []
        for path in (self.stdout, self.stderr):
            text = path.read_text(errors="replace") if path.exists() else ""
            parts.append(f"--- {path.name} ---\n{text[-limit:]}")
        return "\n".join(parts)

    def log_size(self) -> int:
        """Return how many bytes its stderr log holds now."""
        return self.stderr.stat().st_size if self.stderr.exists() else 0

    def log_events(self, since: int) -> Counter[str]:
        """Count the JSON log lines written since byte ``since``, by error code and detail."""
        with self.stderr.open("rb") as handle:
            handle.seek(since)
            lines = handle.read().decode(errors="replace").splitlines()
        events: Counter[str] = Counter()
        for line in lines:
            try:
                event = json.loads(line)
            except ValueError:
                continue
            if not isinstance(event, dict) or event.get("level") not in {"warning", "error"}:
                continue
            name = event.get("code") or event.get("error") or event.get("event", "?")
            detail = event.get("detail")
            events[f"{name} ({detail})" if detail else str(name)] += 1
        return events

    def check_alive(self) -> None:
        """Raise ServerFailedError if the process has exited."""
        code = self.process.poll()
        if code is not None:
            msg = f"{self.name} exited with status {code}\n{self.log()}"
            raise ServerFailedError(msg)

    def stop(self, grace: float = 10.0) -> None:
        """SIGTERM its process group, then SIGKILL whatever is left after ``grace`` seconds."""
        if self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=grace)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.process.pid, signal.SIGKILL)
                self.process.wait(timeout=grace)
        # Workers of a multi-process server share the group; make sure none outlives it.
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.process.pid, signal.SIGKILL)


def start(name: str, argv: list[str], log_dir: Path, env: dict[str, str] | None = None) -> Server:
    """Start ``argv`` in a new session, its output going to files in ``log_dir``."""
    stdout = log_dir / f"{name}.stdout.log"
    stderr = log_dir / f"{name}.stderr.log"
    environment = {**os.environ, "PYTHONUNBUFFERED": "1", **(env or {})}
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            argv, stdout=out, stderr=err, stdin=subprocess.DEVNULL, env=environment,
            start_new_session=True,
        )  # fmt: skip
    server = Server(name, process, stdout, stderr)
    _STARTED.append(server)
    return server


def stop_all() -> None:
    """Stop every server this process started and has not stopped yet."""
    while _STARTED:
        _STARTED.pop().stop()


def wait_for_line(server: Server, prefix: str, timeout: float = 60.0) -> str:
    """Return the rest of the first stdout line starting with ``prefix``."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        server.check_alive()
        for line in server.stdout.read_text(errors="replace").splitlines():
            if line.startswith(prefix):
                return line[len(prefix) :].strip()
        time.sleep(0.1)
    msg = f"{server.name} printed no {prefix!r} line in {timeout:.0f} s\n{server.log()}"
    raise ServerFailedError(msg)


def wait_until_serving(
    server: Server, url: str, tls: ssl.SSLContext, timeout: float = 60.0
) -> None:
    """Wait until ``url`` answers over HTTPS with any status."""
    deadline = time.monotonic() + timeout
    last_error = ""
    with httpx.Client(verify=tls, timeout=2.0) as client:
        while time.monotonic() < deadline:
            server.check_alive()
            try:
                client.get(url)
            except httpx.HTTPError as exc:
                last_error = f"{type(exc).__name__}: {exc}"
                time.sleep(0.1)
            else:
                return
    msg = f"{server.name} did not answer {url} in {timeout:.0f} s ({last_error})\n{server.log()}"
    raise ServerFailedError(msg)


def tree_cpu_seconds(root: int) -> float:
    """Return user+system CPU seconds of ``root`` and its live descendants (from /proc)."""
    children: dict[int, list[int]] = {}
    cpu: dict[int, float] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Fields after the parenthesised command: state ppid ... utime(14) stime(15).
        fields = stat[stat.rindex(")") + 2 :].split()
        pid = int(entry.name)
        children.setdefault(int(fields[1]), []).append(pid)
        cpu[pid] = (int(fields[11]) + int(fields[12])) / _TICKS
    total, todo = 0.0, [root]
    while todo:
        pid = todo.pop()
        total += cpu.get(pid, 0.0)
        todo.extend(children.get(pid, []))
    return total


def wait_idle(root: int, quiet: float = 0.05, longest: float = 8.0) -> None:
    """Wait until ``root``'s tree uses under ``quiet`` cores for 0.2 s (at most ``longest`` s).

    Requests still in flight when wrk stops (waiting on a lock, say) finish here, so their
    log lines and CPU are charged to the run that caused them, not to the next one.
    """
    deadline = time.monotonic() + longest
    previous = tree_cpu_seconds(root)
    while time.monotonic() < deadline:
        time.sleep(0.2)
        current = tree_cpu_seconds(root)
        if current - previous < quiet * 0.2:
            return
        previous = current


def machine_busy_seconds() -> tuple[float, float]:
    """Return (busy, total) CPU seconds of the whole machine so far, from /proc/stat."""
    values = [int(v) for v in Path("/proc/stat").read_text().splitlines()[0].split()[1:]]
    idle = values[3] + values[4]  # idle + iowait
    total = sum(values[:8])  # user..steal; guest time is already inside user
    return (total - idle) / _TICKS, total / _TICKS
