"""``make demo``: Keystead and the reference exchange, end to end, through the CLI.

In a temporary directory it starts a dev Keystead server (registration open) and the
exchange, then runs the seven steps with ``keystead`` commands, printing each command and
its output: users register and log in; Keystead makes their key pairs; the operator
deposits; bob signs a sell and alice a crossing buy through Keystead; the exchange verifies
and executes them; the confirmation and the ledger are verified offline with the exchange's
public key; alice's key is rotated and her next order verifies with version 2 while the old
confirmation still verifies. Both processes are stopped at the end, also on failure; the
exit code is non-zero if any step fails. Passwords come from generated files, never printed.
"""

from __future__ import annotations

import os
import re
import secrets
import shlex
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path

import httpx

KEYSTEAD = [sys.executable, "-m", "keystead.cli.main"]
PAIR = "BTC-USD"
_STARTUP_SECONDS = 60.0


class StepFailed(Exception):
    """A command exited non-zero, or a process did not start."""


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Demo:
    """The temporary directory, the two processes, and the environment of the commands."""

    def __init__(self, root: Path) -> None:
        self.root = root
        self.processes: list[subprocess.Popen[bytes]] = []
        self.secrets: list[str] = []
        self.env = {key: value for key, value in os.environ.items()
                    if not key.startswith("KEYSTEAD_")}  # fmt: skip
        self.env.update({"HOME": str(root / "home"), "NO_COLOR": "1", "COLUMNS": "120",
                         "KEYSTEAD_EXCHANGE_HOME": str(root / "profiles")})  # fmt: skip
        (root / "home").mkdir()
        self.root_token = ""

    def start(self, name: str, args: Sequence[str], extra: dict[str, str]) -> Path:
        log = self.root / f"{name}.log"
        with log.open("wb") as handle:
            process = subprocess.Popen(  # noqa: S603 - our own CLI
                [*KEYSTEAD, *args], stdout=handle, stderr=subprocess.STDOUT,
                env={**self.env, **extra}, start_new_session=True,
            )  # fmt: skip
        self.processes.append(process)
        print(f"$ keystead {shlex.join(args)}   (in the background, log: {log.name})")
        return log

    def wait_for(self, log: Path, url: str, ca: Path) -> None:
        deadline = time.monotonic() + _STARTUP_SECONDS
        while time.monotonic() < deadline:
            if any(process.poll() is not None for process in self.processes):
                msg = f"a process exited early:\n{log.read_text(errors='replace')}"
                raise StepFailed(msg)
            if ca.exists():
                try:
                    httpx.get(url, verify=str(ca), timeout=2).raise_for_status()
                except httpx.HTTPError:
                    pass
                else:
                    return
            time.sleep(0.2)
        msg = f"{url} did not answer within {_STARTUP_SECONDS}s:\n{log.read_text(errors='replace')}"
        raise StepFailed(msg)

    def run(self, *args: str, root: bool = False, stdout: Path | None = None) -> str:
        """Run ``keystead ARGS``, print it and its output; raise StepFailed if it fails."""
        print(f"$ keystead {shlex.join(args)}" + (f" > {stdout.name}" if stdout else ""))
        extra = {"KEYSTEAD_TOKEN": self.root_token} if root else {}
        done = subprocess.run(  # noqa: S603 - our own CLI
            [*KEYSTEAD, *args], capture_output=True, text=True, env={**self.env, **extra},
            cwd=self.root, timeout=120, check=False,
        )  # fmt: skip
        shown = done.stderr if stdout else done.stdout + done.stderr
        if stdout is not None:
            stdout.write_text(done.stdout, encoding="utf-8")
        text = self.masked(shown)
        print("\n".join(f"    {line}" for line in text.rstrip().splitlines()))
        if done.returncode != 0:
            msg = f"`keystead {shlex.join(args)}` exited with {done.returncode}"
            raise StepFailed(msg)
        return done.stdout

    def masked(self, text: str) -> str:
        for secret in (self.root_token, *self.secrets):
            if secret:
                text = text.replace(secret, "<secret>")
        return text

    def password_file(self, user: str) -> Path:
        password = secrets.token_urlsafe(24)
        self.secrets.append(password)
        path = self.root / f"{user}.password"
        path.write_text(password + "\n", encoding="utf-8")
        path.chmod(0o600)
        return path

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                process.send_signal(signal.SIGTERM)
                try:
                    process.wait(timeout=15)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait()
        self.processes.clear()


def step(number: int, title: str) -> None:
    print(f"\n=== Step {number}: {title} ===", flush=True)


def start_keystead(demo: Demo) -> None:
    data, port = demo.root / "keystead", free_port()
    log = demo.start("keystead", ["server", "--dev", "--data-dir", str(data),
                                  "--listen", f"127.0.0.1:{port}"],
                     {"KEYSTEAD_ALLOW_REGISTRATION": "true"})  # fmt: skip
    address, ca = f"https://127.0.0.1:{port}", (data / "tls" / "ca.pem").resolve()
    demo.wait_for(log, f"{address}/v1/sys/seal-status", ca)
    deadline = time.monotonic() + _STARTUP_SECONDS
    while not (found := re.search(r"Root token: (\S+)", log.read_text(errors="replace"))):
        if time.monotonic() > deadline:
            raise StepFailed("the dev server printed no root token")  # noqa: EM101, TRY003
        time.sleep(0.1)
    demo.root_token = found.group(1)
    demo.env.update({"KEYSTEAD_ADDR": address, "KEYSTEAD_CACERT": str(ca)})
    print(f"Keystead at {address} (CA {ca})")


def start_exchange(demo: Demo) -> None:
    token_file = demo.root / "exchange-token"
    demo.run("exchange", "setup", "--token-out", str(token_file), root=True)
    data, port = demo.root / "exchange", free_port()
    log = demo.start("exchange", [
        "exchange", "serve", "--port", str(port), "--data-dir", str(data),
        "--keystead-addr", demo.env["KEYSTEAD_ADDR"],
        "--keystead-ca-cert", demo.env["KEYSTEAD_CACERT"],
        "--keystead-token-file", str(token_file), "--key-status-ttl", "0",
    ], {})  # fmt: skip
    address, ca = f"https://127.0.0.1:{port}", (data / "tls" / "ca.pem").resolve()
    demo.wait_for(log, f"{address}/healthz", ca)
    demo.env.update({"KEYSTEAD_EXCHANGE_ADDR": address, "KEYSTEAD_EXCHANGE_CACERT": str(ca)})
    print(f"Exchange at {address} (CA {ca})")


def trade(demo: Demo) -> None:
    operator = str(demo.root / "exchange" / "operator-token")
    step(1, "alice and bob register and log in (Keystead, then the exchange)")
    for user in ("alice", "bob"):
        demo.run("exchange", "register", "--username", user,
                 "--password-file", str(demo.password_file(user)))  # fmt: skip
    step(2, "Keystead generated their key pairs; only the public halves leave it")
    for user in ("alice", "bob"):
        demo.run("user", "public-key", user, root=True)
    step(3, "the operator deposits")
    demo.run("exchange", "deposit", "alice", "USD", "100000", "--operator-token-file", operator)
    demo.run("exchange", "deposit", "bob", "BTC", "2", "--operator-token-file", operator)
    step(4, "bob signs a sell, alice a crossing buy, each through Keystead")
    demo.run("exchange", "order", "sell", PAIR, "0.5", "42000", "--username", "bob",
             "--out", "bob-sell.json")  # fmt: skip
    demo.run("exchange", "order", "buy", PAIR, "0.5", "42000", "--username", "alice",
             "--out", "alice-buy.json")  # fmt: skip
    step(5, "the exchange verified the signatures and executed the trade")
    demo.run("exchange", "book", PAIR)
    demo.run("exchange", "trades", "--pair", PAIR)
    for user in ("alice", "bob"):
        demo.run("exchange", "balances", "--username", user)


def verify(demo: Demo) -> None:
    step(6, "the confirmation and the ledger verify offline with the exchange's public key")
    key = demo.root / "exchange-key-v1.pem"
    demo.run("exchange", "key", "--version", "1", stdout=key)
    demo.run("exchange", "verify-confirmation", "alice-buy.json", "--public-key", str(key))
    demo.run("exchange", "ledger", "verify", "--data-dir", str(demo.root / "exchange"),
             "--public-key", str(key), "--confirmation", "alice-buy.json",
             "--confirmation", "bob-sell.json")  # fmt: skip
    step(7, "alice's key is rotated; her next order verifies with version 2")
    demo.run("key", "rotate", "user:alice", root=True)
    demo.run("exchange", "order", "buy", PAIR, "0.1", "41000", "--username", "alice",
             "--out", "alice-buy-2.json")  # fmt: skip
    demo.run("exchange", "orders", "--username", "alice")
    orders = demo.run("exchange", "orders", "--username", "alice", "--format", "json")
    if '"key_version": 2' not in orders:
        raise StepFailed("alice's new order was not verified with her key version 2")  # noqa: EM101, TRY003
    print("alice's new order was verified with her key version 2.")
    demo.run("exchange", "verify-confirmation", "alice-buy.json", "--public-key", str(key))
    demo.run("exchange", "verify-confirmation", "alice-buy-2.json")
    demo.run("exchange", "ledger", "verify", "--data-dir", str(demo.root / "exchange"),
             "--public-key", str(key), "--confirmation", "alice-buy.json",
             "--confirmation", "alice-buy-2.json")  # fmt: skip


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="keystead-demo-") as directory:
        demo = Demo(Path(directory))
        try:
            start_keystead(demo)
            start_exchange(demo)
            trade(demo)
            verify(demo)
        except (StepFailed, OSError, subprocess.SubprocessError) as error:
            print(f"\nDEMO FAILED: {demo.masked(str(error))}", file=sys.stderr)
            return 1
        finally:
            demo.stop()
    print("\nDemo complete: every step passed.")
    return 0


if __name__ == "__main__":
    sys.exit(main())
