"""One storage suite, run against SQLite and PostgreSQL (STYLE.md C27)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from keystead.config import load_settings
from keystead.crypto.hashing import token_digest
from keystead.errors import AlreadyInitialized, KeyAlreadyExists, Unauthenticated
from keystead.services.container import Services, build_services
from keystead.storage.repositories import SealConfig, StoredKey, StoredToken

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'suite.db'}"
    return request.getfixturevalue("postgres_url")


@pytest.fixture
async def services(database_url: str, tmp_path: Path) -> AsyncIterator[Services]:
    settings = load_settings(data_dir=tmp_path, insecure_http=True, database_url=database_url)
    built = build_services(settings, clock=lambda: NOW)
    yield built
    await built.close()


def stored_key(name: str) -> StoredKey:
    return StoredKey(
        str(uuid.uuid4()), name, "AES_256_GCM", "ENCRYPT_DECRYPT", "ACTIVE", 1, "", NOW, NOW
    )


async def test_migrations_create_every_table(services: Services) -> None:
    async with services.engine.connect() as connection:
        for table in ("seal_config", "tokens", "keys", "key_versions", "alembic_version"):
            await connection.execute(text(f"SELECT count(*) FROM {table}"))


async def test_seal_config_is_written_once(services: Services) -> None:
    database = services.system._database
    config = SealConfig("shamir", 5, 3, b"wrapped-keyring")
    async with database.unit_of_work() as uow:
        assert await uow.system.get_seal_config() is None
        await uow.system.create_seal_config(config, NOW)
    with pytest.raises(AlreadyInitialized):
        async with database.unit_of_work() as uow:
            await uow.system.create_seal_config(config, NOW)
    async with database.unit_of_work() as uow:
        await uow.system.replace_keyring(b"rotated", NOW)
    async with database.unit_of_work() as uow:
        assert await uow.system.get_seal_config() == SealConfig("shamir", 5, 3, b"rotated")


async def test_keys_round_trip_with_aware_times_and_unique_names(services: Services) -> None:
    database = services.system._database
    key = stored_key("orders")
    async with database.unit_of_work() as uow:
        await uow.keys.add(key, b"\x00\x01wrapped")
    async with database.unit_of_work() as uow:
        assert await uow.keys.get(key.id) == key
        assert await uow.keys.get_by_name("orders") == key
        assert await uow.keys.material(key.id, 1) == b"\x00\x01wrapped"
        assert await uow.keys.material(key.id, 2) is None
        assert await uow.keys.get(str(uuid.uuid4())) is None
    with pytest.raises(KeyAlreadyExists):
        async with database.unit_of_work() as uow:
            await uow.keys.add(stored_key("orders"), b"other")
    async with database.unit_of_work() as uow:
        assert [k.name for k in await uow.keys.list(10, None)] == ["orders"]


async def test_a_failed_transaction_leaves_nothing_behind(services: Services) -> None:
    database = services.system._database

    async def add_twice() -> None:
        async with database.unit_of_work() as uow:
            await uow.keys.add(stored_key("first"), b"a")
            await uow.keys.add(stored_key("first"), b"b")

    with pytest.raises(KeyAlreadyExists):
        await add_twice()
    async with database.unit_of_work() as uow:
        assert await uow.keys.list(10, None) == []


async def test_key_listing_pages_by_name(services: Services) -> None:
    database = services.system._database
    async with database.unit_of_work() as uow:
        for name in ("c", "a", "e", "b", "d"):
            await uow.keys.add(stored_key(name), b"w")
    async with database.unit_of_work() as uow:
        first = [k.name for k in await uow.keys.list(2, None)]
        second = [k.name for k in await uow.keys.list(2, first[-1])]
        last = [k.name for k in await uow.keys.list(2, second[-1])]
    assert (first, second, last) == (["a", "b"], ["c", "d"], ["e"])


async def test_tokens_resolve_only_while_valid(services: Services) -> None:
    database, tokens = services.system._database, services.tokens
    live = StoredToken(
        "t1", "service", "svc", ("key-user",), NOW + timedelta(hours=1), revoked=False
    )
    dead = StoredToken(
        "t2", "service", "old", ("key-user",), NOW - timedelta(seconds=1), revoked=False
    )
    async with database.unit_of_work() as uow:
        await uow.tokens.add(live, token_digest("kst_live"), NOW)
        await uow.tokens.add(dead, token_digest("kst_dead"), NOW)
    principal = await tokens.authenticate("kst_live")
    assert (principal.token_id, principal.roles, principal.is_root) == ("t1", ("key-user",), False)
    for presented in ("kst_dead", "kst_unknown", "no-prefix", "", None):
        with pytest.raises(Unauthenticated):
            await tokens.authenticate(presented)


async def test_init_unseal_and_material_through_the_services(services: Services) -> None:
    result = await services.system.initialize(3, 2)
    for share in result.shares[1:]:
        await services.system.unseal(share)
    assert (await services.system.status()).sealed is False
    principal = await services.tokens.authenticate(result.root_token)
    assert principal.is_root
    from keystead.domain.specs import KeySpec, KeyUsage
    from keystead.services.keys import NewKey

    key = await services.keys.create(
        principal, NewKey("k", KeySpec.CHACHA20_POLY1305, KeyUsage.ENCRYPT_DECRYPT)
    )
    encrypted = await services.crypto.encrypt(principal, "k", b"hello", {"a": "1"})
    await services.system.seal()
    await services.system.unseal(result.shares[0])
    await services.system.unseal(result.shares[2])
    decrypted = await services.crypto.decrypt(principal, encrypted.ciphertext, {"a": "1"})
    assert (decrypted.plaintext, decrypted.key_id, decrypted.version) == (b"hello", key.id, 1)
