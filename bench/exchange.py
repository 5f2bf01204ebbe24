"""Orders per second through the exchange, end to end (issue 8, must-show 5).

Keystead (``--dev``, TLS) and ``keystead exchange serve`` (TLS) run as their own processes.
Each of ``--clients`` threads is its own user: it signs an order through Keystead's sign API
with its own key, then posts it to the exchange, which checks the key's state with Keystead,
verifies the signature, matches the order, and has Keystead sign its ledger entries and the
confirmation before it commits. Printed: orders/s, latency percentiles, the share of each
order's time spent in the user's Keystead sign call, and where the exchange spent its part
(its ``Server-Timing`` header). The baseline, measured in the same run with the same clients,
is the Keystead sign call alone.

    .venv/bin/python bench/exchange.py [--clients 8] [--seconds 10] [--key-status-ttl 0]
"""

from __future__ import annotations

import argparse
import secrets
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
    phases: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def add(self, total: float, sign: float, timing: str) -> None:
        with self.lock:
            self.total.append(total)
            self.sign.append(sign)
            for part in timing.split(","):
                name, _, duration = part.strip().partition(";dur=")
                if duration:
                    self.phases[name].append(float(duration) / 1000)


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
    import ssl  # noqa: PLC0415

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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--clients", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--key-status-ttl", type=float, default=0.0)
    args = parser.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory(prefix="keystead-exchange-bench-") as directory:
        try:
            stack = start_stack(Path(directory), args.key_status_ttl)
            users = [stack.user(f"trader{n}") for n in range(args.clients)]
            baseline = Samples()

            def sign_only(n: int, until: float) -> None:
                _, keystead = users[n]
                message = b'{"warm":"up"}'
                while time.monotonic() < until:
                    started = time.perf_counter()
                    keystead.keys.sign(f"user:trader{n}", message=message)
                    elapsed = time.perf_counter() - started
                    baseline.add(elapsed, elapsed, "")

            sign_wall = _run_clients(args.clients, args.seconds, sign_only)
            orders = Samples()

            def trade(n: int, until: float) -> None:
                trader, _ = users[n]
                side = "buy" if n % 2 == 0 else "sell"
                http = httpx.Client(verify=_tls(stack.exchange_ca), timeout=30)
                while time.monotonic() < until:
                    fields = {"side": side, "pair": "BTC-USD",
                              "price": f"{(9900 + secrets.randbelow(201)) / 100:.2f}",
                              "quantity": f"{(1 + secrets.randbelow(50)) / 1000:.3f}"}  # fmt: skip
                    started = time.perf_counter()
                    envelope = trader.sign_request(ORDER, fields)
                    signed = time.perf_counter()
                    answer = http.post(f"{stack.exchange_address}/v1/orders", json=envelope)
                    answer.raise_for_status()
                    done = time.perf_counter()
                    orders.add(done - started, signed - started,
                               answer.headers.get("server-timing", ""))  # fmt: skip
                http.close()

            order_wall = _run_clients(args.clients, args.seconds, trade)
        finally:
            stop_all()
    _report(console, args, baseline, sign_wall, orders, order_wall)


def _tls(ca: Path) -> object:
    import ssl  # noqa: PLC0415

    return ssl.create_default_context(cafile=str(ca))


def _report(  # noqa: PLR0913, PLR0917 - the two runs and how they were run
    console: Console, args: argparse.Namespace, baseline: Samples, sign_wall: float,
    orders: Samples, order_wall: float,
) -> None:  # fmt: skip
    table = Table(title=f"Exchange, {args.clients} clients, {args.seconds:.0f} s each run, "
                        f"key status TTL {args.key_status_ttl:g} s")  # fmt: skip
    for column in ("run", "ops/s", "p50 ms", "p95 ms", "p99 ms", "ratio"):
        table.add_column(column, justify="right" if column != "run" else "left")
    sign_rate = len(baseline.total) / sign_wall
    order_rate = len(orders.total) / order_wall
    table.add_row("Keystead sign call alone (baseline)", f"{sign_rate:,.0f}",
                  _ms(baseline.total, 50), _ms(baseline.total, 95), _ms(baseline.total, 99),
                  "1.00x")  # fmt: skip
    table.add_row("order end to end (sign + exchange)", f"{order_rate:,.0f}",
                  _ms(orders.total, 50), _ms(orders.total, 95), _ms(orders.total, 99),
                  f"{order_rate / sign_rate:.2f}x")  # fmt: skip
    console.print(table)
    share = sum(orders.sign) / sum(orders.total)
    console.print(f"Share of an order's time in the user's Keystead sign call: {share:.0%} "
                  f"(mean {sum(orders.sign) / len(orders.sign) * 1000:.1f} ms)")  # fmt: skip
    phases = Table(title="Inside the exchange (Server-Timing means, ms)")
    for name in orders.phases:
        phases.add_column(name, justify="right")
    phases.add_row(*(f"{sum(v) / len(v) * 1000:.2f}" for v in orders.phases.values()))
    console.print(phases)
    console.print(
        "verify includes the key-status call to Keystead; sign is the exchange's "
        "own Keystead sign calls (ledger entries and the confirmation, concurrent); "
        "lock is the wait for the one ledger writer."
    )


if __name__ == "__main__":
    main()
