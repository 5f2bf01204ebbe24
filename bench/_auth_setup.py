"""Setup and in-process timing for bench/auth.py: users, a granted key, Argon2 counting.

Two halves. Over HTTPS: start `keystead server --dev`, create a key-user with a grant on an
AES key, and time single logins. In process: time one PasswordHasher.verify at the
configured Argon2id cost, and time a token check beside an encrypt on services built with
build_services(), while counting every call into argon2-cffi.
"""

from __future__ import annotations

import asyncio
import os
import secrets
import ssl
import time
from collections.abc import Callable, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median
from typing import Any, Self

import _keystead
import argon2
import httpx
from _procs import (
    free_port,
    machine_busy_seconds,
    start,
    tree_cpu_seconds,
    wait_for_line,
    wait_until_serving,
)

from keystead.config import Settings, load_settings
from keystead.crypto.passwords import Argon2Parameters, PasswordHasher
from keystead.domain.models import Principal
from keystead.domain.specs import KeySpec
from keystead.services.container import Services, build_services
from keystead.services.devmode import bootstrap_dev, unseal_dev
from keystead.services.keys import NewKey
from keystead.services.login import LoginAttempt

# Every failed login also counts against the source address (127.0.0.1 for every request
# here), and at the default threshold (100, slowed from 50) the failure samples would
# measure the throttle, not Argon2. Per-name throttling stays at its defaults: each name
# sees at most one failure in a row (a right login clears it; unknown names are fresh).
SERVER_ENV = {"KEYSTEAD_ADDRESS_LOCKOUT_THRESHOLD": "100000"}
GRANTED = ["encrypt", "decrypt"]
BLOCK, MISS_BLOCK = 500, 50  # calls per timed block in process


def argon2_parameters() -> Argon2Parameters:
    """The Argon2id cost the server uses: its settings (KEYSTEAD_ARGON2_* or defaults)."""
    settings = load_settings()
    return Argon2Parameters(
        settings.argon2_memory_kib, settings.argon2_time_cost, settings.argon2_parallelism
    )


def new_password() -> str:
    return "bench-" + secrets.token_urlsafe(18)


def new_name(prefix: str) -> str:
    return f"{prefix}-{secrets.token_hex(4)}"


class OtherCPU:
    """Cores the rest of the machine used inside a ``with``: neither this process nor the server."""

    def __init__(self, server_pid: int | None = None) -> None:
        self._server = server_pid
        self._start = (0.0, 0.0, 0.0, 0.0)
        self.cores = 0.0

    def _reading(self) -> tuple[float, float, float, float]:
        server = tree_cpu_seconds(self._server) if self._server else 0.0
        return machine_busy_seconds()[0], time.process_time(), server, time.perf_counter()

    def __enter__(self) -> Self:
        self._start = self._reading()
        return self

    def __exit__(self, *_: object) -> None:
        busy, own, server, wall = (b - a for a, b in zip(self._start, self._reading(), strict=True))
        self.cores = max(0.0, busy - own - server) / wall if wall else 0.0


# --- Argon2 counting and raw cost ------------------------------------------------------


@dataclass
class Argon2Calls:
    """Calls into argon2-cffi's PasswordHasher since the counter was installed."""

    verify: int = 0
    hash: int = 0


@contextmanager
def counting_argon2() -> Iterator[Argon2Calls]:
    """Wrap argon2.PasswordHasher.verify and .hash (which Keystead's hasher calls) to count."""
    calls = Argon2Calls()
    verify, hash_ = argon2.PasswordHasher.verify, argon2.PasswordHasher.hash

    def counted_verify(self: argon2.PasswordHasher, *args: Any, **kwargs: Any) -> bool:
        calls.verify += 1
        return verify(self, *args, **kwargs)

    def counted_hash(self: argon2.PasswordHasher, *args: Any, **kwargs: Any) -> str:
        calls.hash += 1
        return hash_(self, *args, **kwargs)

    argon2.PasswordHasher.verify = counted_verify  # type: ignore[method-assign,assignment]
    argon2.PasswordHasher.hash = counted_hash  # type: ignore[method-assign]
    try:
        yield calls
    finally:
        argon2.PasswordHasher.verify = verify  # type: ignore[method-assign]
        argon2.PasswordHasher.hash = hash_  # type: ignore[method-assign]


@dataclass(frozen=True)
class HashCost:
    """Milliseconds (wall) of single PasswordHasher.verify calls, and their CPU share."""

    right: list[float]
    wrong: list[float]
    decoy: list[float]  # no stored hash: the unknown-user path
    cpu_per_wall: float  # CPU seconds / wall seconds over the right-password calls

    @property
    def rounds(self) -> int:
        return len(self.right)

    @property
    def right_ms(self) -> float:
        return median(self.right)

    @property
    def per_core(self) -> float:
        return 1000 / self.right_ms


def hash_cost(parameters: Argon2Parameters, rounds: int) -> HashCost:
    """Time Keystead's PasswordHasher.verify: right, wrong and no hash (the decoy), interleaved."""
    hasher = PasswordHasher(parameters)
    password = new_password()
    stored = hasher.hash(password)
    samples: dict[str, list[float]] = {"right": [], "wrong": [], "decoy": []}
    cases = {
        "right": (stored, password),
        "wrong": (stored, password + "x"),
        "decoy": (None, password),
    }
    hasher.verify(stored, password)  # warm up
    cpu = wall = 0.0
    for _ in range(rounds):
        for name, (password_hash, attempt) in cases.items():
            cpu_start, start_ = time.process_time(), time.perf_counter()
            hasher.verify(password_hash, attempt)
            elapsed = time.perf_counter() - start_
            samples[name].append(elapsed * 1000)
            if name == "right":
                wall += elapsed
                cpu += time.process_time() - cpu_start
    return HashCost(
        samples["right"], samples["wrong"], samples["decoy"], cpu / wall if wall else 0.0
    )


@dataclass(frozen=True)
class ParallelRate:
    """PasswordHasher.verify on several threads at once (argon2-cffi releases the GIL)."""

    threads: int
    per_second: float
    cores: float  # CPU seconds / wall seconds of this process meanwhile
    other_cores: float  # what the rest of the machine used meanwhile


def parallel_rate(
    parameters: Argon2Parameters, threads: int, per_thread: int, server_pid: int | None = None
) -> ParallelRate:
    """Verify ``threads * per_thread`` times on ``threads`` threads; return the hashes/s."""
    hasher = PasswordHasher(parameters)
    password = new_password()
    stored = hasher.hash(password)
    with ThreadPoolExecutor(threads) as pool, OtherCPU(server_pid) as other:
        cpu, started = time.process_time(), time.perf_counter()
        list(pool.map(lambda _: hasher.verify(stored, password), range(threads * per_thread)))
        wall = time.perf_counter() - started
        cpu = time.process_time() - cpu
    return ParallelRate(threads, threads * per_thread / wall, cpu / wall, other.cores)


# --- the server --------------------------------------------------------------------------


@dataclass(frozen=True)
class Accounts:
    """What the server holds for the benchmark: a user, an AES key granted to it, tokens."""

    username: str
    password: str = field(repr=False)
    key_id: str
    user_token: str = field(repr=False)


def start_server(data_dir: Path, log_dir: Path) -> _keystead.Keystead:
    """Start `keystead server --dev` (one worker) with SERVER_ENV; wait until it serves."""
    port = free_port()
    argv = [str(_keystead.KEYSTEAD), "server", "--dev", "--data-dir", str(data_dir),
            "--listen", f"127.0.0.1:{port}", "--log-level", "warning"]  # fmt: skip
    server = start("keystead-auth", argv, log_dir, env=SERVER_ENV)
    address = wait_for_line(server, "Address:")
    ca_file = wait_for_line(server, "CA certificate:")
    token = wait_for_line(server, "Root token:")
    tls = ssl.create_default_context(cafile=ca_file)
    wait_until_serving(server, f"{address}/v1/sys/health", tls)
    return _keystead.Keystead(server, address, token, tls)


def _expect(answer: httpx.Response, status: int, what: str) -> dict[str, Any]:
    if answer.status_code != status:
        msg = f"{what} answered {answer.status_code} (expected {status}): {answer.text[:300]}"
        raise RuntimeError(msg)
    return answer.json() if answer.content else {}


def create_accounts(keystead: _keystead.Keystead, body: Path) -> Accounts:
    """As root: a key-user, an AES_256_GCM key, a grant; then log in and encrypt ``body``."""
    username, password = new_name("bench"), new_password()
    root = {"Authorization": f"Bearer {keystead.token}"}
    with httpx.Client(base_url=keystead.address, verify=keystead.tls, timeout=30.0) as client:
        user = {"username": username, "password": password, "roles": ["key-user"]}
        _expect(client.post("/v1/users", json=user, headers=root), 201, "POST /v1/users")
        key = {"name": new_name("bench-aes"), "spec": "AES_256_GCM"}
        key_id = _expect(client.post("/v1/keys", json=key, headers=root), 201, "POST /v1/keys")[
            "id"
        ]
        grant = {"principal": username, "operations": GRANTED}
        _expect(client.post(f"/v1/keys/{key_id}/grants", json=grant, headers=root), 201,
                "POST /v1/keys/{key}/grants")  # fmt: skip
        login = {"username": username, "password": password}
        token = _expect(client.post("/v1/auth/login", json=login), 200, "POST /v1/auth/login")
        user_token = str(token["token"])
        if not user_token.startswith("kst_s_"):
            msg = f"a login token should start kst_s_, got {user_token[:6]}..."
            raise RuntimeError(msg)
        as_user = {"Authorization": f"Bearer {user_token}"}
        _expect(client.post(f"/v1/keys/{key_id}/encrypt", content=body.read_bytes(),
                            headers={**as_user, "Content-Type": "application/json"}),
                200, "encrypt with the key-user's login token")  # fmt: skip
    return Accounts(username, password, str(key_id), user_token)


def create_login_users(keystead: _keystead.Keystead, password: str, count: int) -> list[str]:
    """As root: ``count`` users sharing ``password``, one per wrk connection."""
    root = {"Authorization": f"Bearer {keystead.token}"}
    names = [new_name("login") for _ in range(count)]
    with httpx.Client(base_url=keystead.address, verify=keystead.tls, timeout=30.0) as client:
        for name in names:
            user = {"username": name, "password": password, "roles": []}
            _expect(client.post("/v1/users", json=user, headers=root), 201, "POST /v1/users")
    return names


@dataclass(frozen=True)
class LoginLatency:
    """Single logins one at a time (ms): right password, wrong password, unknown user."""

    right: list[float]
    wrong: list[float]
    unknown: list[float]
    unexpected: list[str]  # statuses other than 200 / 401 / 401
    other_cores: float  # what the rest of the machine used meanwhile


def login_latency(keystead: _keystead.Keystead, accounts: Accounts, rounds: int) -> LoginLatency:
    """Interleave wrong-password, unknown-user and right logins from one keep-alive client.

    The first two swap places every round; the right login comes last, clearing the failure
    the wrong one added to the name's count (unknown names are new every time).
    """
    samples: dict[str, list[float]] = {"right": [], "wrong": [], "unknown": []}
    unexpected: list[str] = []
    right = {"username": accounts.username, "password": accounts.password}
    wrong = {"username": accounts.username, "password": accounts.password + "x"}
    with (
        httpx.Client(base_url=keystead.address, verify=keystead.tls, timeout=30.0) as client,
        OtherCPU(keystead.server.pid) as other,
    ):
        client.post("/v1/auth/login", json=right)  # warm up the connection
        for number in range(rounds):
            unknown = {"username": new_name("nobody"), "password": accounts.password}
            failures = [("wrong", wrong, 401), ("unknown", unknown, 401)]
            if number % 2:
                failures.reverse()
            for name, body, status in [*failures, ("right", right, 200)]:
                started = time.perf_counter()
                answer = client.post("/v1/auth/login", json=body)
                samples[name].append((time.perf_counter() - started) * 1000)
                if answer.status_code != status:
                    unexpected.append(f"{name}: {answer.status_code} {answer.text[:120]}")
    return LoginLatency(
        samples["right"], samples["wrong"], samples["unknown"], unexpected, other.cores
    )


# --- in process: a token check beside an encrypt -----------------------------------------


@dataclass(frozen=True)
class TokenCheck:
    """Microseconds per call in process, per loop, and the calls into argon2-cffi.

    The loops: ``root`` and ``encrypt`` (crypto.encrypt alone as root, and as the key-user
    resolved once), ``check_encrypt`` (tokens.authenticate(token), then crypto.encrypt),
    ``check`` (tokens.authenticate alone, from its 10 s cache) and ``miss`` (the cache
    emptied first: SHA-256 and a database read).
    """

    calls: int
    miss_calls: int
    block: int
    median: dict[str, float]  # the median block of each loop, µs per call
    best: dict[str, float]  # the fastest block
    argon2_during_checks: Argon2Calls
    argon2_during_login: Argon2Calls


Loop = Callable[[int], Coroutine[Any, Any, None]]


async def _interleaved(loops: dict[str, Loop], calls: int, block: int) -> dict[str, list[float]]:
    """Run each loop ``calls`` times in alternating blocks; return each block's µs per call.

    Interleaving spreads a drift of the machine over every loop; the median block then
    sets aside blocks that another process, or a usage-block refill, slowed down.
    """
    spent: dict[str, list[float]] = {name: [] for name in loops}
    for _ in range(max(1, calls // block)):
        for name, loop in loops.items():
            started = time.perf_counter_ns()
            await loop(block)
            spent[name].append((time.perf_counter_ns() - started) / block / 1000)
    return spent


async def _prepare(services: Services, password: str) -> tuple[Principal, str, str]:
    """Dev-style init and unseal; a key-user with a grant on an AES key; its login token."""
    root = await services.tokens.authenticate(await bootstrap_dev(services))
    await unseal_dev(services)
    username = new_name("bench")
    await services.users.create(root, username, password, ["key-user"])
    key = await services.keys.create(
        root, NewKey(name=new_name("bench-aes"), spec=KeySpec.AES_256_GCM)
    )
    await services.grants.create(root, str(key.id), username, GRANTED)
    return root, username, str(key.id)


@dataclass(frozen=True)
class _Calls:
    """The loops being timed, each ``n`` calls on the same key and 1 KiB plaintext."""

    services: Services
    root: Principal
    user: Principal
    token: str = field(repr=False)
    key_id: str
    plaintext: bytes = field(repr=False)

    async def root_encrypt(self, n: int) -> None:
        for _ in range(n):
            await self.services.crypto.encrypt(self.root, self.key_id, self.plaintext, {})

    async def encrypt(self, n: int) -> None:
        for _ in range(n):
            await self.services.crypto.encrypt(self.user, self.key_id, self.plaintext, {})

    async def check_encrypt(self, n: int) -> None:
        crypto, tokens = self.services.crypto, self.services.tokens
        for _ in range(n):
            principal = await tokens.authenticate(self.token)
            await crypto.encrypt(principal, self.key_id, self.plaintext, {})

    async def check(self, n: int) -> None:
        for _ in range(n):
            await self.services.tokens.authenticate(self.token)

    async def miss(self, n: int) -> None:
        tokens = self.services.tokens
        for _ in range(n):
            tokens.forget_all()
            await tokens.authenticate(self.token)


async def _token_check(settings: Settings, calls: int, miss_calls: int) -> TokenCheck:
    services = build_services(settings)
    try:
        password = new_password()
        root, username, key_id = await _prepare(services, password)
        with counting_argon2() as during_login:
            issued = await services.login.login(LoginAttempt(username, password, "127.0.0.1"))
        user = await services.tokens.authenticate(issued.value)
        loops = _Calls(services, root, user, issued.value, key_id, os.urandom(_keystead.PAYLOAD))
        await _interleaved({"a": loops.encrypt, "b": loops.check_encrypt}, 1000, 500)  # warm up
        with counting_argon2() as during_checks:
            blocks = await _interleaved(
                {"root": loops.root_encrypt, "encrypt": loops.encrypt,
                 "check_encrypt": loops.check_encrypt, "check": loops.check},
                calls, block=BLOCK,
            )  # fmt: skip
            blocks |= await _interleaved({"miss": loops.miss}, miss_calls, block=MISS_BLOCK)
        await asyncio.sleep(0.2)  # let a usage-block refill started by the loops finish
        return TokenCheck(
            calls, miss_calls, BLOCK, {name: median(v) for name, v in blocks.items()},
            {name: min(v) for name, v in blocks.items()}, during_checks, during_login,
        )  # fmt: skip
    finally:
        await services.close()


def token_check(data_dir: Path, calls: int, miss_calls: int) -> TokenCheck:
    """Build services on SQLite in ``data_dir`` and time token checks beside encrypts."""
    settings = load_settings(data_dir=data_dir, insecure_http=True)
    return asyncio.run(_token_check(settings, calls, miss_calls))
