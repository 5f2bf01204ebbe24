"""A real Keystead and a real exchange, each its own process, over TLS (must-show 1 and 4).

Keystead is a production-mode server (its own certificates, initialised with shares); the
exchange is ``keystead exchange serve`` with its own development CA and a service-account
token that allows only its own key. Users register with Keystead itself and sign every
request through it; the exchange never sees a password.
"""

from __future__ import annotations

import os
import ssl
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from server_process import KEYSTEAD, ServerProcess, free_port, production_server, stop_process

from keystead.exchange.client import ExchangeClient
from keystead_sdk import Client

PASSWORD = "correct horse battery staple"
KEY_NAME = "exchange-ledger"
EXCHANGE_STATEMENTS = [{
    "effect": "allow",
    "actions": ["keys.create", "keys.describe", "keys.public_key", "keys.sign"],
    "keys": [KEY_NAME],
}]  # fmt: skip


def _tls(ca_file: Path) -> ssl.SSLContext:
    return ssl.create_default_context(cafile=str(ca_file))


@dataclass
class ExchangeProcess:
    """A ``keystead exchange serve`` process."""

    data_dir: Path
    args: list[str]
    port: int
    log: Path
    process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        return f"https://127.0.0.1:{self.port}"

    @property
    def ca_file(self) -> Path:
        return self.data_dir / "tls" / "ca.pem"

    @property
    def operator_token(self) -> str:
        return (self.data_dir / "operator-token").read_text().strip()

    def start(self, timeout: float = 30.0) -> None:
        with self.log.open("ab") as handle:
            self.process = subprocess.Popen(
                [*KEYSTEAD, "exchange", "serve", *self.args], stdout=handle,
                stderr=subprocess.STDOUT, env=dict(os.environ),
            )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                msg = f"exchange exited with {self.process.returncode}:\n{self.log.read_text()}"
                raise RuntimeError(msg)
            if self.ca_file.exists():
                with suppress(httpx.TransportError), httpx.Client(verify=_tls(self.ca_file)) as c:
                    if c.get(f"{self.address}/healthz").status_code == 200:
                        return
            time.sleep(0.1)
        self.stop()
        msg = f"exchange did not answer within {timeout}s:\n{self.log.read_text()}"
        raise RuntimeError(msg)

    def stop(self) -> int:
        code = stop_process(self.process)
        self.process = None
        return code


@dataclass
class Deployment:
    """Keystead, the exchange, and the clients made against them."""

    keystead: ServerProcess
    root_token: str
    exchange: ExchangeProcess
    opened: list[Client | ExchangeClient] = field(default_factory=list)

    def keystead_client(self, token: str | None = None) -> Client:
        client = Client(self.keystead.address, token=token, ca_cert=self.keystead.ca_file)
        self.opened.append(client)
        return client

    def exchange_client(self, keystead: Client | None = None, username: str | None = None
                        ) -> ExchangeClient:  # fmt: skip
        client = ExchangeClient(self.exchange.address, keystead=keystead, username=username,
                                ca_cert=self.exchange.ca_file)  # fmt: skip
        self.opened.append(client)
        return client

    def user(self, name: str) -> ExchangeClient:
        """Register with Keystead (self-registration), log in, then open the exchange account."""
        self.keystead_client().auth.register(name, PASSWORD)
        session = self.keystead_client().auth.login(name, PASSWORD)
        trader = self.exchange_client(self.keystead_client(session.token), name)
        trader.register()
        trader.login()
        return trader

    def deposit(self, account: str, asset: str, amount: str) -> dict[str, object]:
        return self.exchange_client().deposit(self.exchange.operator_token, account, asset,
                                              amount)  # fmt: skip

    def close(self) -> None:
        for client in self.opened:
            client.close()


def _initialise(keystead: ServerProcess) -> str:
    with keystead.client() as client:
        init = client.post("/v1/sys/init", json={"shares": 5, "threshold": 3}).json()
        for share in init["shares"][:3]:
            client.post("/v1/sys/unseal", json={"share": share})
    return str(init["root_token"])


def _exchange_token(keystead: ServerProcess, root_token: str) -> str:
    with Client(keystead.address, token=root_token, ca_cert=keystead.ca_file) as root:
        root.policies.create("exchange", EXCHANGE_STATEMENTS, description="the exchange's key")
        root.roles.create("exchange", ["exchange"])
        root.users.create("exchange", roles=["exchange", "key-user"], kind="service")
        return root.tokens.create(username="exchange", ttl_seconds=86400).token.get_secret_value()


@contextmanager
def deployment(directory: Path, *extra_exchange_args: str) -> Iterator[Deployment]:
    """Both processes started and ready; stopped (and their logs kept) at the end."""
    keystead = production_server(directory / "keystead")
    keystead.env["KEYSTEAD_ALLOW_REGISTRATION"] = "true"
    keystead.start()
    exchange: ExchangeProcess | None = None
    try:
        root_token = _initialise(keystead)
        token_file = directory / "exchange-token"
        token_file.write_text(_exchange_token(keystead, root_token))
        token_file.chmod(0o600)
        port = free_port()
        exchange = ExchangeProcess(
            data_dir=directory / "exchange", port=port, log=directory / "exchange.log",
            args=[
                "--data-dir", str(directory / "exchange"), "--port", str(port),
                "--keystead-addr", keystead.address,
                "--keystead-ca-cert", str(keystead.ca_file),
                "--keystead-token-file", str(token_file), *extra_exchange_args,
            ],
        )  # fmt: skip
        exchange.start()
        deployed = Deployment(keystead, root_token, exchange)
        try:
            yield deployed
        finally:
            deployed.close()
    finally:
        if exchange is not None:
            exchange.stop()
        keystead.stop()
