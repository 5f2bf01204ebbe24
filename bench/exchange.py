"""Orders per second through the exchange, end to end (issue 8, must-show 5).

Keystead (``--dev``, TLS) and ``keystead exchange serve`` (TLS) run as their own processes.
Each of ``--clients`` threads is its own user: it signs an order through Keystead's sign API
with its own key, then posts it to the exchange, which checks the key's state with Keystead,
verifies the signature, matches the order, and has Keystead sign its ledger entries and the
confirmation before it commits. Printed: orders/s, latency percentiles, the share of each
order's time spent in the user's Keystead sign call, and where the exchange spent its part
(its ``Server-Timing`` header). The baseline, measured in the same run with the same clients,
is the Keystead sign call alone.

    .venv/bin/python bench/exchange.py [--clients 8] [--seconds 10] [--key-status-ttl 0 2]

It runs once per ``--key-status-ttl``: 0 (the default setting) asks Keystead for the user
key's state on every order, so a revocation stops orders at once; 2 trusts an answer for 2 s.
"""

from __future__ import annotations

import argparse
import secrets
import ssl
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from statistics import quantiles

import httpx
from _keystead import KEYSTEAD, start_keystead
from _procs import free_port, start, stop_all, wait_until_serving
from rich.console import Console
from rich.table import Table

from keystead.exchange.client import ExchangeClient
from keystead.exchange.requests import ORDER
from keystead_sdk import Client

PASSWORD = "correct horse battery staple"  # noqa: S105 - a throwaway user of a throwaway server
STATEMENTS = [
    {
        "effect": "allow",
        "keys": ["exchange-ledger"],
        "actions": ["keys.create", "keys.describe", "keys.public_key", "keys.sign"],
    }
]


@dataclass
class Samples:
    """What the clients measured, merged."""

    total: list[float] = field(default_factory=list)
    sign: list[float] = field(default_factory=list)
    groups: list[float] = field(default_factory=list)
    phases: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, total: float, sign: float, timing: str) -> None:
        with self.lock:
            self.total.append(total)
            self.sign.append(sign)
            for part in timing.split(","):
                name, _, value = part.strip().partition(";")
                if value.startswith("dur="):
                    self.phases[name].append(float(value[4:]) / 1000)
                elif value.startswith("desc="):
                    self.groups.append(float(value[5:].strip('"')))


@dataclass
class Stack:
    """The two processes and a way to make users."""

    keystead_address: str
    keystead_ca: Path
    root_token: str
    exchange_address: str
    exchange_ca: Path
    operator_token: str

    def user(self, name: str) -> tuple[ExchangeClient, Client]:
        Client(self.keystead_address, ca_cert=self.keystead_ca).auth.register(name, PASSWORD)
        session = Client(self.keystead_address, ca_cert=self.keystead_ca).auth.login(name, PASSWORD)
        keystead = Client(self.keystead_address, token=session.token, ca_cert=self.keystead_ca)
        trader = ExchangeClient(self.exchange_address, keystead=keystead, username=name,
                                ca_cert=self.exchange_ca)  # fmt: skip
        trader.register()
        for asset, amount in (("USD", "100000000"), ("BTC", "1000000")):
            trader.deposit(self.operator_token, name, asset, amount)
        return trader, keystead


def start_stack(work: Path, key_status_ttl: float) -> Stack:
    keystead = start_keystead(work / "keystead", work, 1,
                              env={"KEYSTEAD_ALLOW_REGISTRATION": "true"})  # fmt: skip
    ca = Path(keystead.server.stdout.read_text().split("CA certificate:")[1].split()[0])
    with Client(keystead.address, token=keystead.token, ca_cert=ca) as root:
        root.policies.create("exchange", STATEMENTS)
        root.roles.create("exchange", ["exchange"])
        root.users.create("exchange", roles=["exchange", "key-user"], kind="service")
        token = root.tokens.create(username="exchange", ttl_seconds=86400).token
    token_file = work / "exchange-token"
    token_file.write_text(token.get_secret_value())
    token_file.chmod(0o600)
    port = free_port()
    data = work / "exchange"
    server = start("exchange", [
        str(KEYSTEAD), "exchange", "serve", "--data-dir", str(data), "--port", str(port),
        "--keystead-addr", keystead.address, "--keystead-ca-cert", str(ca),
        "--keystead-token-file", str(token_file), "--key-status-ttl", str(key_status_ttl),
        "--log-level", "warning",
    ], work)  # fmt: skip
    deadline = time.monotonic() + 30
    while not (data / "tls" / "ca.pem").exists() and time.monotonic() < deadline:
        server.check_alive()
        time.sleep(0.1)
    tls = ssl.create_default_context(cafile=str(data / "tls" / "ca.pem"))
    wait_until_serving(server, f"https://127.0.0.1:{port}/healthz", tls)
    operator = (data / "operator-token").read_text().strip()
    return Stack(keystead.address, ca, keystead.token, f"https://127.0.0.1:{port}",
                 data / "tls" / "ca.pem", operator)  # fmt: skip


def _run_clients(count: int, seconds: float, work: Callable[[int, float], None]) -> float:
    until = time.monotonic() + seconds
    threads = [threading.Thread(target=work, args=(n, until)) for n in range(count)]
    started = time.perf_counter()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return time.perf_counter() - started


def _ms(values: list[float], q: int) -> str:
    if len(values) < 2:
        return "-"
    return f"{quantiles(values, n=100)[q - 1] * 1000:.1f}"


@dataclass
class Run:
    """One measured run: what it was, its samples and its wall time."""

    label: str
    samples: Samples
    wall: float

    @property
    def rate(self) -> float:
        return len(self.samples.total) / self.wall


def _sign_only(users: list[tuple[ExchangeClient, Client]], args: argparse.Namespace) -> Run:
    samples = Samples()

    def work(n: int, until: float) -> None:
        _, keystead = users[n]
        while time.monotonic() < until:
            started = time.perf_counter()
            keystead.keys.sign(f"user:trader{n}", message=b'{"warm":"up"}')
            elapsed = time.perf_counter() - started
            samples.add(elapsed, elapsed, "")

    wall = _run_clients(args.clients, args.seconds, work)
    return Run("Keystead sign call alone (baseline)", samples, wall)


def _orders(
    stack: Stack, users: list[tuple[ExchangeClient, Client]], args: argparse.Namespace, ttl: float
) -> Run:
    samples = Samples()

    def work(n: int, until: float) -> None:
        trader, _ = users[n]
        side = "buy" if n % 2 == 0 else "sell"
        with httpx.Client(verify=_tls(stack.exchange_ca), timeout=30) as http:
            while time.monotonic() < until:
                fields = {"side": side, "pair": "BTC-USD",
                          "price": f"{(9900 + secrets.randbelow(201)) / 100:.2f}",
                          "quantity": f"{(1 + secrets.randbelow(50)) / 1000:.3f}"}  # fmt: skip
                started = time.perf_counter()
                envelope = trader.sign_request(ORDER, fields)
                signed = time.perf_counter()
                answer = http.post(f"{stack.exchange_address}/v1/orders", json=envelope)
                answer.raise_for_status()
                samples.add(time.perf_counter() - started, signed - started,
                            answer.headers.get("server-timing", ""))  # fmt: skip

    wall = _run_clients(args.clients, args.seconds, work)
    return Run(f"order end to end, key status TTL {ttl:g} s", samples, wall)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument(
        "--key-status-ttl",
        type=float,
        nargs="+",
        default=[0.0, 2.0],
        help="one run per value (0, the default setting: ask on every order)",
    )
    args = parser.parse_args()
    runs: list[Run] = []
    for index, ttl in enumerate(args.key_status_ttl):
        with tempfile.TemporaryDirectory(prefix="keystead-exchange-bench-") as directory:
            try:
                stack = start_stack(Path(directory), ttl)
                users = [stack.user(f"trader{n}") for n in range(args.clients)]
                if index == 0:
                    runs.append(_sign_only(users, args))
                runs.append(_orders(stack, users, args, ttl))
            finally:
                stop_all()
    _report(Console(width=120), args, runs)


def _tls(ca: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ca))


def _report(console: Console, args: argparse.Namespace, runs: list[Run]) -> None:
    table = Table(title=f"Exchange: {args.clients} clients, {args.seconds:g} s a run")
    for column in ("run", "ops/s", "p50 ms", "p95 ms", "p99 ms", "vs baseline",
                   "in user's sign call"):  # fmt: skip
        table.add_column(column, justify="left" if column == "run" else "right")
    baseline = runs[0]
    for run in runs:
        total = run.samples.total
        share = sum(run.samples.sign) / sum(total)
        table.add_row(run.label, f"{run.rate:,.0f}", _ms(total, 50), _ms(total, 95),
                      _ms(total, 99), f"{run.rate / baseline.rate:.2f}x",
                      "-" if run is baseline else f"{share:.0%}")  # fmt: skip
    console.print(table)
    phases = Table(title="Inside the exchange, per order (Server-Timing means, ms)")
    phases.add_column("run")
    names = ["verify", "queue", "apply", "sign", "store"]
    for name in names:
        phases.add_column(name, justify="right")
    phases.add_column("orders a group", justify="right")
    for run in runs[1:]:
        values = run.samples.phases
        cells = [f"{sum(values[n]) / len(values[n]) * 1000:.2f}" if values[n] else "-"
                 for n in names]  # fmt: skip
        groups = run.samples.groups
        cells.append(f"{sum(groups) / len(groups):.1f}" if groups else "-")
        phases.add_row(run.label.removeprefix("order end to end, "), *cells)
    console.print(phases)
    console.print(
        "verify: the key-status call to Keystead (none while the TTL holds) and the signature "
        "check; queue: waiting for the one writer; apply: matching in memory; sign: the "
        "exchange's one batch sign call to Keystead for its group's ledger entries and "
        "confirmations; store: the group's one transaction."
    )


if __name__ == "__main__":
    main()
