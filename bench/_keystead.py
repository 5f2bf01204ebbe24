"""The Keystead side of the benchmark: start a dev server, create keys, prepare request bodies."""

from __future__ import annotations

import base64
import json
import os
import ssl
import subprocess
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from _procs import Server, free_port, start, wait_for_line, wait_until_serving

# The `keystead` script of the interpreter running the benchmark (the project's .venv).
KEYSTEAD = Path(sys.executable).parent / "keystead"
SIGNING_SPECS = ("ED25519", "EC_P256", "EC_SECP256K1", "RSA_2048", "ML_DSA_65")
PAYLOAD = 1024  # bytes of plaintext (and of message to sign)
BATCH_ITEMS = 100


@dataclass(frozen=True)
class Operation:
    """One thing to measure: a POST of a fixed body, or why it cannot be measured."""

    name: str
    path: str
    body: Path | None
    items: int = 1  # items per request (batch forms)
    skipped: str = ""  # why it is not measured, if it is not


@dataclass
class Keystead:
    """A running Keystead server, with what a client needs to reach it."""

    server: Server
    address: str
    token: str
    tls: ssl.SSLContext


def supports_workers() -> bool:
    """Whether `keystead server` has a --workers option (issue 3 will add one)."""
    env = {**os.environ, "COLUMNS": "200", "NO_COLOR": "1", "TERM": "dumb"}
    done = subprocess.run(
        [str(KEYSTEAD), "server", "--help"], capture_output=True, text=True, env=env, check=False
    )
    return "--workers" in done.stdout


def start_keystead(
    data_dir: Path,
    log_dir: Path,
    workers: int,
    *,
    env: dict[str, str] | None = None,
    name: str | None = None,
) -> Keystead:
    """Start `keystead server --dev` (TLS, SQLite in ``data_dir``) and wait until it serves.

    ``env`` adds environment variables (``KEYSTEAD_AUDIT_SINK``, say); ``name`` names its logs.
    """
    port = free_port()
    argv = [str(KEYSTEAD), "server", "--dev", "--data-dir", str(data_dir),
            "--listen", f"127.0.0.1:{port}", "--log-level", "warning"]  # fmt: skip
    if workers > 1:
        argv += ["--workers", str(workers)]
    server = start(name or f"keystead-w{workers}", argv, log_dir, env)
    address = wait_for_line(server, "Address:")
    ca_file = wait_for_line(server, "CA certificate:")
    token = wait_for_line(server, "Root token:")
    tls = ssl.create_default_context(cafile=ca_file)
    wait_until_serving(server, f"{address}/v1/sys/health", tls)
    return Keystead(server, address, token, tls)


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


class _Setup:
    """Creates keys and writes each operation's body, checking that one request succeeds."""

    def __init__(self, keystead: Keystead, body_dir: Path) -> None:
        self._client = httpx.Client(
            base_url=keystead.address, verify=keystead.tls, timeout=30.0,
            headers={"Authorization": f"Bearer {keystead.token}"},
        )  # fmt: skip
        self._dir = body_dir
        self._run = uuid.uuid4().hex[:8]

    def close(self) -> None:
        self._client.close()

    def create_key(self, spec: str, usage: str | None = None) -> str:
        body: dict[str, Any] = {"name": f"bench-{spec.lower()}-{self._run}", "spec": spec}
        if usage:
            body["usage"] = usage
        answer = self._client.post("/v1/keys", json=body)
        if answer.status_code != httpx.codes.CREATED:
            msg = f"creating a {spec} key answered {answer.status_code}: {answer.text}"
            raise RuntimeError(msg)
        return str(answer.json()["id"])

    def operation(
        self,
        name: str,
        path: str,
        body: dict[str, Any],
        check: Callable[[dict[str, Any]], str] | None = None,
        items: int = 1,
    ) -> tuple[Operation, dict[str, Any]]:
        """Write ``body``, send it once, and return the operation and the answer."""
        file = self._dir / f"{len(list(self._dir.iterdir())):02d}.json"
        file.write_text(json.dumps(body), encoding="ascii")
        answer = self._client.post(path, content=file.read_bytes())
        problem = "" if answer.is_success else f"{answer.status_code} {answer.text[:200]}"
        payload = answer.json() if answer.is_success else {}
        if not problem and check is not None:
            problem = check(payload)
        if problem:
            return Operation(name, path, None, items, skipped=f"check failed: {problem}"), {}
        return Operation(name, path, file, items), payload

    def batch_paths(self) -> list[str]:
        """Paths of the OpenAPI document that look like batch encrypt."""
        answer = self._client.get("/v1/openapi.json")
        paths = answer.json().get("paths", {}) if answer.is_success else {}
        return [p for p in paths if "batch" in p and "encrypt" in p and "decrypt" not in p]


def prepare(keystead: Keystead, body_dir: Path, echo_body: Path) -> list[Operation]:
    """Create the keys and return every operation, in the order they are measured."""
    body_dir.mkdir(parents=True, exist_ok=True)
    setup = _Setup(keystead, body_dir)
    try:
        return _operations(setup, echo_body)
    finally:
        setup.close()


def _operations(setup: _Setup, echo_body: Path) -> list[Operation]:
    aes = setup.create_key("AES_256_GCM")
    message = json.loads(echo_body.read_text())["plaintext"]
    ops: list[Operation] = []
    encrypt, sealed = setup.operation(
        "encrypt 1 KiB", f"/v1/keys/{aes}/encrypt", {"plaintext": message}
    )
    ops.append(encrypt)
    if sealed:
        ops.append(setup.operation(
            "decrypt 1 KiB", "/v1/decrypt", {"ciphertext": sealed["ciphertext"]},
            lambda answer: "" if answer.get("plaintext") == message else "wrong plaintext",
        )[0])  # fmt: skip
    ops.append(_batch(setup, aes, message))
    ops.append(setup.operation(
        "data-key AES_256", f"/v1/keys/{aes}/data-key", {"spec": "AES_256"}
    )[0])  # fmt: skip
    for spec in SIGNING_SPECS:
        key = setup.create_key(spec, "SIGN_VERIFY")
        sign, signed = setup.operation(f"sign {spec}", f"/v1/keys/{key}/sign", {"message": message})
        ops.append(sign)
        if signed:
            body = {"message": message, "signature": signed["signature"]}
            ops.append(setup.operation(f"verify {spec}", f"/v1/keys/{key}/verify", body, _valid)[0])
    return ops


def _valid(answer: dict[str, Any]) -> str:
    return "" if answer.get("valid") is True else "the signature does not verify"


def _batch(setup: _Setup, aes: str, message: str) -> Operation:
    name = f"batch encrypt {BATCH_ITEMS} x 1 KiB"
    paths = setup.batch_paths()
    if not paths:
        return Operation(name, "", None, BATCH_ITEMS, skipped="not supported by the server yet")
    path = paths[0].replace("{key}", aes)
    body = {"items": [{"plaintext": message} for _ in range(BATCH_ITEMS)]}
    return setup.operation(name, path, body, _all_items_done, items=BATCH_ITEMS)[0]


def _all_items_done(answer: dict[str, Any]) -> str:
    # A batch answers 200 even when items fail: each item carries its own result.
    results = answer.get("results", [])
    failed = [r["error"] for r in results if r.get("error")]
    if len(results) != BATCH_ITEMS or failed:
        return f"{len(results)} results, {len(failed)} failed (first: {failed[:1]})"
    return ""


def write_echo_body(path: Path) -> Path:
    """Write the 1 KiB-plaintext JSON body that encrypt and the echo baselines both get."""
    path.write_text(json.dumps({"plaintext": _b64(os.urandom(PAYLOAD))}), encoding="ascii")
    return path


def verify_audit(keystead: Keystead, timeout: float = 300.0) -> dict[str, Any] | str:
    """Ask the server to walk its audit chain: its verdict, or why it could not answer."""
    with httpx.Client(
        base_url=keystead.address, verify=keystead.tls, timeout=timeout,
        headers={"Authorization": f"Bearer {keystead.token}"},
    ) as client:  # fmt: skip
        try:
            answer = client.get("/v1/audit/verify")
        except httpx.HTTPError as exc:
            return f"{type(exc).__name__}: {exc}"
    if not answer.is_success:
        return f"{answer.status_code} {answer.text[:200]}"
    verdict: dict[str, Any] = answer.json()
    return verdict
