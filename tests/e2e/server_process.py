"""Start and stop a real ``keystead server`` process for end-to-end tests."""

from __future__ import annotations

import os
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx

KEYSTEAD = [sys.executable, "-m", "keystead.cli.main"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def stop_process(process: subprocess.Popen[bytes] | None) -> int:
    """SIGTERM, wait up to 15 s, then kill; the exit code (0 when there is no process)."""
    if process is None:
        return 0
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
    return process.returncode


@dataclass
class ServerProcess:
    """A keystead server process and how to reach it."""

    args: Sequence[str]
    port: int
    ca_file: Path | None
    log: Path
    env: dict[str, str] = field(default_factory=dict)
    process: subprocess.Popen[bytes] | None = None

    @property
    def address(self) -> str:
        scheme = "https" if self.ca_file else "http"
        return f"{scheme}://127.0.0.1:{self.port}"

    def tls_context(self) -> ssl.SSLContext | bool:
        return ssl.create_default_context(cafile=str(self.ca_file)) if self.ca_file else True

    def client(self, token: str | None = None) -> httpx.Client:
        headers = {"authorization": f"Bearer {token}"} if token else {}
        return httpx.Client(
            base_url=self.address, verify=self.tls_context(), headers=headers, timeout=10
        )

    def start(self, timeout: float = 30.0) -> None:
        env = {**os.environ, **self.env}
        with self.log.open("ab") as handle:
            self.process = subprocess.Popen(
                [*KEYSTEAD, "server", *self.args], stdout=handle, stderr=subprocess.STDOUT, env=env
            )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                msg = f"server exited with {self.process.returncode}:\n{self.log.read_text()}"
                raise RuntimeError(msg)
            if self.ca_file is not None and not self.ca_file.exists():
                time.sleep(0.1)  # a dev server writes its CA on start
                continue
            try:
                with self.client() as client:
                    client.get("/v1/sys/seal-status")
            except httpx.TransportError:
                time.sleep(0.1)
                continue
            return
        self.stop()
        msg = f"server did not answer within {timeout}s:\n{self.log.read_text()}"
        raise RuntimeError(msg)

    def stop(self) -> int:
        code = stop_process(self.process)
        self.process = None
        return code


def production_server(directory: Path) -> ServerProcess:
    """A production-mode server (not started): its own TLS files, sealed until unsealed."""
    from keystead.crypto.certificates import ensure_dev_certificates

    pki = ensure_dev_certificates(directory / "pki")
    port = free_port()
    return ServerProcess(
        args=[
            "--data-dir", str(directory / "data"), "--listen", f"127.0.0.1:{port}",
            "--tls-cert", str(pki.server_cert), "--tls-key", str(pki.server_key),
        ],
        port=port, ca_file=pki.ca_cert, log=directory / "server.log",
    )  # fmt: skip


def hsm_server(directory: Path, module: Path, token_label: str, pin: str) -> ServerProcess:
    """A production-mode server (not started) with the pkcs11 seal; PIN in a 0600 file.

    Its environment's SOFTHSM2_CONF is the caller's to set (``server.env``).
    """
    server = production_server(directory)
    pin_file = directory / "pkcs11-pin"
    pin_file.write_text(f"{pin}\n", encoding="utf-8")
    pin_file.chmod(0o600)
    server.args = [
        *server.args, "--seal", "pkcs11", "--pkcs11-module", str(module),
        "--pkcs11-token-label", token_label, "--pkcs11-pin-file", str(pin_file),
        "--pkcs11-retry-seconds", "0.5",
    ]  # fmt: skip
    return server


def wait_for_status(
    server: ServerProcess, until: Callable[[dict[str, object]], bool], timeout: float = 30.0
) -> dict[str, object]:
    """Poll ``/v1/sys/seal-status`` until ``until`` holds; fail with the log otherwise."""
    deadline = time.monotonic() + timeout
    status: dict[str, object] = {}
    with server.client() as client:
        while time.monotonic() < deadline:
            status = client.get("/v1/sys/seal-status").json()
            if until(status):
                return status
            time.sleep(0.1)
    msg = f"seal status never matched within {timeout}s: {status}\n{server.log.read_text()}"
    raise AssertionError(msg)
