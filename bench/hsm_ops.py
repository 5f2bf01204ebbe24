"""HSM-protected keys against software keys: sign and encrypt ops/s (issue 7, must-show 4).

One Keystead in-process (SQLite) whose seal is pkcs11, on SoftHSM2 set up in a temporary
directory (its own SOFTHSM2_CONF and a fresh token, as the tests do). For each spec, a
software key and an HSM-protected key are made, and the same operation runs through the
services layer (``SigningService.sign``, ``CryptoService.encrypt``) for a fixed time after a
warm-up, ``--concurrency`` calls in flight. Printed: ops/s of each, and software / HSM.

    .venv/bin/python bench/hsm_ops.py [--seconds 3] [--concurrency 8]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import subprocess
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

from rich.console import Console
from rich.table import Table

from keystead.config import load_settings
from keystead.domain.models import Principal
from keystead.domain.specs import KeySpec, KeyUsage
from keystead.services.container import Services, build_services
from keystead.services.keys import NewKey

MODULES = (
    Path("/usr/lib/softhsm/libsofthsm2.so"),
    Path("/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so"),
    Path("/usr/lib/aarch64-linux-gnu/softhsm/libsofthsm2.so"),
    Path("/usr/local/lib/softhsm/libsofthsm2.so"),
)
PIN = "4711-bench-user"
SO_PIN = "0815-bench-so"
PAYLOAD = bytes(1024)
MESSAGE = b"a message of the benchmark, signed again and again"
Op = Callable[[], Awaitable[object]]


def _softhsm(directory: Path) -> tuple[Path, str]:
    """A SoftHSM2 configuration in ``directory`` with one fresh token: (module, label)."""
    module = next((m for m in MODULES if m.is_file()), None)
    util = shutil.which("softhsm2-util")
    if module is None or util is None:
        msg = "SoftHSM2 is not installed: sudo apt-get install softhsm2"
        raise SystemExit(msg)
    tokens = directory / "tokens"
    tokens.mkdir(parents=True)
    conf = directory / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {tokens}\nobjectstore.backend = file\nlog.level = ERROR\n",
        encoding="ascii",
    )
    os.environ["SOFTHSM2_CONF"] = str(conf)  # read when the library is initialised
    label = f"bench-{uuid.uuid4().hex[:8]}"
    subprocess.run(
        [util, "--init-token", "--free", "--label", label, "--pin", PIN, "--so-pin", SO_PIN],
        check=True, capture_output=True, timeout=30,
    )  # fmt: skip
    return module, label


async def _started(directory: Path) -> tuple[Services, Principal]:
    module, label = _softhsm(directory / "softhsm")
    settings = load_settings(
        data_dir=directory / "data", insecure_http=True, audit_sink="none", seal="pkcs11",
        pkcs11_module=module, pkcs11_token_label=label, pkcs11_pin=PIN,
    )  # fmt: skip
    services = build_services(settings)
    result = await services.system.initialize(1, 1)
    return services, await services.tokens.authenticate(result.root_token)


async def _rate(operation: Op, seconds: float, concurrency: int) -> float:
    """Calls per second of ``operation`` with ``concurrency`` in flight, after a warm-up."""
    for _ in range(20):
        await operation()
    done = 0
    deadline = time.perf_counter() + seconds

    async def worker() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            await operation()
            done += 1

    started = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return done / (time.perf_counter() - started)


async def _measure(seconds: float, concurrency: int) -> list[tuple[str, float, float]]:
    with tempfile.TemporaryDirectory(prefix="keystead-bench-hsm-") as root:
        services, root_principal = await _started(Path(root))
        rows = []
        cases = (
            ("sign", KeySpec.EC_P256),
            ("sign", KeySpec.RSA_2048),
            ("encrypt 1 KiB", KeySpec.AES_256_GCM),
        )
        try:
            for operation, spec in cases:
                rates = []
                for protection in ("SOFTWARE", "HSM"):
                    name = f"{spec.value.lower()}-{protection.lower()}"
                    usage = KeyUsage.SIGN_VERIFY if operation == "sign" else None
                    request = NewKey(name=name, spec=spec, usage=usage, protection=protection)
                    await services.keys.create(root_principal, request)
                    rates.append(
                        await _rate(
                            _operation(services, root_principal, operation, name),
                            seconds, concurrency,
                        )
                    )  # fmt: skip
                rows.append((f"{operation} {spec.value}", rates[0], rates[1]))
        finally:
            await services.close()
        return rows


def _operation(services: Services, principal: Principal, operation: str, name: str) -> Op:
    if operation == "sign":
        return lambda: services.signing.sign(
            principal, name, message=MESSAGE, digest=None, algorithm=None
        )
    return lambda: services.crypto.encrypt(principal, name, PAYLOAD, {"bench": "hsm"})


def _report(rows: list[tuple[str, float, float]], concurrency: int) -> None:
    table = Table(
        title=f"HSM (SoftHSM2) against software keys, services layer, {concurrency} in flight"
    )
    for column in ("operation", "software ops/s", "HSM ops/s", "software / HSM"):
        table.add_column(column, justify="right")
    for operation, software, hsm in rows:
        table.add_row(operation, f"{software:,.0f}", f"{hsm:,.0f}", f"{software / hsm:,.1f}x")
    Console().print(table)


def main() -> None:
    """Run the benchmark and print its table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()
    _report(asyncio.run(_measure(args.seconds, args.concurrency)), args.concurrency)


if __name__ == "__main__":
    main()
