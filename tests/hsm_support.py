"""SoftHSM2 in a temporary directory: its own configuration file, token directory and tokens.

The HSM tests never skip (issue 7): without SoftHSM2 they fail, saying how to install it.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

MODULE_CANDIDATES = (
    Path("/usr/lib/softhsm/libsofthsm2.so"),
    Path("/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"),
    Path("/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so"),
    Path("/usr/local/lib/softhsm/libsofthsm2.so"),
)
MISSING = (
    "SoftHSM2 is not installed: the HSM tests need it and never skip. Install it with "
    "`sudo apt-get install softhsm2` (or run `make test`, which does)."
)
USER_PIN = "4711-keystead-user"
SO_PIN = "0815-keystead-so"


def softhsm_module() -> Path:
    """The SoftHSM2 PKCS#11 library; fails the test when SoftHSM2 is missing."""
    for candidate in MODULE_CANDIDATES:
        if candidate.is_file():
            return candidate
    pytest.fail(MISSING)


def softhsm_util() -> str:
    """The path of ``softhsm2-util``; fails the test when SoftHSM2 is missing."""
    found = shutil.which("softhsm2-util")
    if found is None:
        pytest.fail(MISSING)
    return found


@dataclass
class SoftHSM:
    """One SoftHSM2 installation in ``directory``, with the tokens made so far."""

    directory: Path
    module: Path = field(default_factory=softhsm_module)
    pin: str = USER_PIN
    labels: list[str] = field(default_factory=list)

    @property
    def conf(self) -> Path:
        """The file SOFTHSM2_CONF points at."""
        return self.directory / "softhsm2.conf"

    @property
    def token_dir(self) -> Path:
        """Where SoftHSM2 keeps its tokens."""
        return self.directory / "tokens"

    @property
    def token_label(self) -> str:
        """The label of the first token."""
        return self.labels[0]

    @property
    def env(self) -> dict[str, str]:
        """The environment a process needs to reach these tokens."""
        return {"SOFTHSM2_CONF": str(self.conf)}

    def write_conf(self, token_dir: Path | None = None) -> None:
        """(Re)write the configuration file, pointing at ``token_dir`` (default: our own)."""
        directory = token_dir or self.token_dir
        directory.mkdir(parents=True, exist_ok=True)
        self.conf.write_text(
            f"directories.tokendir = {directory}\n"
            "objectstore.backend = file\n"
            "log.level = ERROR\n"
            "slots.removable = false\n",
            encoding="ascii",
        )

    def init_token(self, label: str | None = None) -> str:
        """Initialise a fresh token in the next free slot and return its label."""
        label = label or f"keystead-{uuid.uuid4().hex[:8]}"
        result = subprocess.run(
            [softhsm_util(), "--init-token", "--free", "--label", label,
             "--pin", self.pin, "--so-pin", SO_PIN],
            capture_output=True, text=True, timeout=30, check=False, env=self._util_env(),
        )  # fmt: skip
        if result.returncode != 0:
            pytest.fail(f"softhsm2-util --init-token failed: {result.stdout}{result.stderr}")
        self.labels.append(label)
        return label

    def remove_tokens(self) -> None:
        """Delete every token: what an unplugged or wiped HSM looks like to the server."""
        for entry in self.token_dir.iterdir():
            shutil.rmtree(entry)

    def unplug(self) -> None:
        """Move the tokens aside (:meth:`plug_in` puts them back)."""
        stash = self.directory / "unplugged"
        stash.mkdir(exist_ok=True)
        for entry in self.token_dir.iterdir():
            entry.rename(stash / entry.name)

    def plug_in(self) -> None:
        """Put back the tokens :meth:`unplug` moved aside."""
        for entry in (self.directory / "unplugged").iterdir():
            entry.rename(self.token_dir / entry.name)

    def _util_env(self) -> dict[str, str]:
        return {**os.environ, **self.env}


def create_softhsm(directory: Path) -> SoftHSM:
    """A SoftHSM2 configuration in ``directory`` with one fresh token."""
    directory.mkdir(parents=True, exist_ok=True)
    hsm = SoftHSM(directory)
    hsm.write_conf()
    hsm.init_token()
    return hsm


def pkcs11_settings(hsm: SoftHSM, **extra: object) -> dict[str, object]:
    """The settings of a server whose seal is the first token of ``hsm``."""
    return {
        "seal": "pkcs11",
        "pkcs11_module": hsm.module,
        "pkcs11_token_label": hsm.token_label,
        "pkcs11_pin": hsm.pin,
        "pkcs11_retry_seconds": 0.2,
        **extra,
    }


def seal_status(client: TestClient) -> dict[str, Any]:
    response = client.get("/v1/sys/seal-status")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def wait_for_seal(
    client: TestClient, until: Callable[[dict[str, Any]], bool], timeout: float = 15.0
) -> dict[str, Any]:
    """Poll the seal status until ``until`` holds (the pkcs11 seal works in the background)."""
    deadline = time.monotonic() + timeout
    while True:
        status = seal_status(client)
        if until(status):
            return status
        if time.monotonic() > deadline:
            pytest.fail(f"seal status never matched within {timeout}s: {status}")
        time.sleep(0.05)


def unsealed(status: dict[str, Any]) -> bool:
    return status["sealed"] is False


def failing(status: dict[str, Any]) -> bool:
    return status["sealed"] is True and bool(status.get("seal_error"))
