"""One storage suite, run against SQLite and PostgreSQL, under each seal (STYLE.md C27).

Every test runs with the Shamir seal and with the pkcs11 seal on SoftHSM2 (issue 7,
must-show 3): the services of each are built, and the seal tests drive both.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import text

from keystead.crypto.hashing import token_digest
from keystead.domain.lifecycle import KeyState
from keystead.domain.models import Key
from keystead.domain.specs import KeySpec, KeyUsage
from keystead.errors import AlreadyInitialized, KeyAlreadyExists, SealMismatch, Unauthenticated
from keystead.services.container import Services, build_services
from keystead.storage.key_repository import KeyFilter, NewVersion
from keystead.storage.repositories import SealConfig, StoredToken
from keystead.types import KeyId, KeyVersionNumber
from seal_support import SealUnderTest

pytestmark = pytest.mark.anyio

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture
async def services(
    database_url: str, tmp_path: Path, seal: SealUnderTest
) -> AsyncIterator[Services]:
    settings = seal.settings(tmp_path, database_url=database_url)
    built = build_services(settings, clock=lambda: NOW)
    yield built
    await built.close()


def stored_key(name: str, tags: dict[str, str] | None = None) -> Key:
    return Key(
        id=KeyId(uuid.uuid4()), name=name, spec=KeySpec.AES_256_GCM,
        usage=KeyUsage.ENCRYPT_DECRYPT, state=KeyState.ACTIVE,
        primary_version=KeyVersionNumber(1), description="", created_at=NOW, updated_at=NOW,
        tags=tags or {}, rotation_period=timedelta(days=7), next_rotation_at=NOW,
    )  # fmt: skip


def first_version(material: bytes) -> NewVersion:
    return NewVersion(1, KeyState.ACTIVE, material, None, NOW)


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


async def test_a_seal_migration_replaces_the_seal_only_if_unchanged(services: Services) -> None:
    database = services.system._database
    shamir = SealConfig("shamir", 5, 3, b"keyring-under-shares")
    hsm = SealConfig("pkcs11", 5, 3, b"keyring-in-token", b"c" * 64, "keystead-root", b"i" * 16)
    async with database.unit_of_work() as uow:
        await uow.system.create_seal_config(shamir, NOW)
    async with database.unit_of_work() as uow:
        await uow.system.replace_seal_config(shamir, hsm, NOW)
    async with database.unit_of_work() as uow:
        assert await uow.system.get_seal_config() == hsm
    with pytest.raises(SealMismatch):  # another node migrated (or rotated) first
        async with database.unit_of_work() as uow:
            await uow.system.replace_seal_config(shamir, shamir, NOW)
    async with database.unit_of_work() as uow:
        await uow.system.replace_keyring(b"rotated-in-token", NOW)
    async with database.unit_of_work() as uow:
        stored = await uow.system.get_seal_config()
    assert stored == SealConfig(
        "pkcs11", 5, 3, b"rotated-in-token", b"c" * 64, "keystead-root", b"i" * 16
    )


async def test_keys_round_trip_with_aware_times_and_unique_names(services: Services) -> None:
    database = services.system._database
    key = stored_key("orders")
    async with database.unit_of_work() as uow:
        await uow.keys.add(key, first_version(b"\x00\x01wrapped"))
    async with database.unit_of_work() as uow:
        assert await uow.keys.get(key.id) == key
        assert await uow.keys.get_by_name("orders") == key
        assert await uow.keys.material(key.id, 1) == b"\x00\x01wrapped"
        assert await uow.keys.material(key.id, 2) is None
        assert await uow.keys.get(KeyId(uuid.uuid4())) is None
    with pytest.raises(KeyAlreadyExists):
        async with database.unit_of_work() as uow:
            await uow.keys.add(stored_key("orders"), first_version(b"other"))
    async with database.unit_of_work() as uow:
        assert [k.name for k in await uow.keys.find(KeyFilter(limit=10))] == ["orders"]


async def test_a_failed_transaction_leaves_nothing_behind(services: Services) -> None:
    database = services.system._database

    async def add_twice() -> None:
        async with database.unit_of_work() as uow:
            await uow.keys.add(stored_key("first"), first_version(b"a"))
            await uow.keys.add(stored_key("first"), first_version(b"b"))

    with pytest.raises(KeyAlreadyExists):
        await add_twice()
    async with database.unit_of_work() as uow:
        assert await uow.keys.find(KeyFilter(limit=10)) == []


async def test_key_listing_pages_by_name(services: Services) -> None:
    database = services.system._database
    async with database.unit_of_work() as uow:
        for name in ("c", "a", "e", "b", "d"):
            await uow.keys.add(stored_key(name), first_version(b"w"))
    async with database.unit_of_work() as uow:
        first = [k.name for k in await uow.keys.find(KeyFilter(limit=2))]
        second = [k.name for k in await uow.keys.find(KeyFilter(after_name=first[-1], limit=2))]
        last = [k.name for k in await uow.keys.find(KeyFilter(after_name=second[-1], limit=2))]
    assert (first, second, last) == (["a", "b"], ["c", "d"], ["e"])


async def test_tokens_resolve_only_while_valid(services: Services) -> None:
    database, tokens = services.system._database, services.tokens
    live = StoredToken(
        id="t1", kind="api", display_name="svc", roles=("key-user",),
        expires_at=NOW + timedelta(hours=1),
    )  # fmt: skip
    dead = StoredToken(
        id="t2", kind="api", display_name="old", roles=("key-user",),
        expires_at=NOW - timedelta(seconds=1),
    )  # fmt: skip
    async with database.unit_of_work() as uow:
        await uow.tokens.add(live, token_digest("kst_live"), NOW)
        await uow.tokens.add(dead, token_digest("kst_dead"), NOW)
    principal = await tokens.authenticate("kst_live")
    assert (principal.token_id, principal.roles, principal.is_root) == ("t1", ("key-user",), False)
    for presented in ("kst_dead", "kst_unknown", "no-prefix", "", None):
        with pytest.raises(Unauthenticated):
            await tokens.authenticate(presented)


async def test_init_unseal_and_material_through_the_services(
    services: Services, seal: SealUnderTest
) -> None:
    result = await seal.init_services(services, 3, 2)
    principal = await services.tokens.authenticate(result.root_token)
    assert principal.is_root
    from keystead.services.keys import NewKey

    key = await services.keys.create(principal, NewKey(name="k", spec=KeySpec.CHACHA20_POLY1305))
    encrypted = await services.crypto.encrypt(principal, "k", b"hello", {"a": "1"})
    await services.system.seal()
    await seal.unseal_services_after_seal(services, result)
    decrypted = await services.crypto.decrypt(principal, encrypted.ciphertext, {"a": "1"})
    assert (decrypted.plaintext, decrypted.key_id, decrypted.version) == (b"hello", key.id, 1)


async def test_key_filters_and_tags(services: Services) -> None:
    database = services.system._database
    async with database.unit_of_work() as uow:
        await uow.keys.add(
            stored_key("tagged", {"team": "pay", "env": "prod"}), first_version(b"1")
        )
        await uow.keys.add(stored_key("other", {"team": "ops"}), first_version(b"2"))
    async with database.unit_of_work() as uow:
        by_tag = await uow.keys.find(KeyFilter(tag=("team", "pay")))
        by_state = await uow.keys.find(KeyFilter(state=KeyState.SUSPENDED))
        by_spec = await uow.keys.find(KeyFilter(spec=KeySpec.AES_256_GCM))
    assert [k.name for k in by_tag] == ["tagged"]
    assert by_tag[0].tags == {"team": "pay", "env": "prod"}
    assert by_tag[0].rotation_period == timedelta(days=7)
    assert by_state == []
    assert [k.name for k in by_spec] == ["other", "tagged"]


async def test_updates_are_refused_when_the_state_moved_meanwhile(services: Services) -> None:
    from dataclasses import replace

    from keystead.errors import ConflictError

    database = services.system._database
    key = stored_key("racy")
    async with database.unit_of_work() as uow:
        await uow.keys.add(key, first_version(b"m"))
    suspended = replace(key, state=KeyState.SUSPENDED)
    async with database.unit_of_work() as uow:
        await uow.keys.update(suspended, expected_state=KeyState.ACTIVE)
    with pytest.raises(ConflictError):
        async with database.unit_of_work() as uow:
            await uow.keys.update(
                replace(key, state=KeyState.DEACTIVATED), expected_state=KeyState.ACTIVE
            )
    async with database.unit_of_work() as uow:
        assert (await uow.keys.get(key.id)).state is KeyState.SUSPENDED


async def test_versions_material_erasure_and_use_counts(services: Services) -> None:
    database = services.system._database
    key = stored_key("versions")
    async with database.unit_of_work() as uow:
        await uow.keys.add(key, first_version(b"one"))
        await uow.keys.add_version(key.id, NewVersion(2, KeyState.ACTIVE, b"two", b"pub", NOW))
        await uow.keys.record_use(key.id, 2, 5, NOW)
    async with database.unit_of_work() as uow:
        versions = await uow.keys.versions(key.id)
        assert [(v.version, v.use_count) for v in versions] == [(1, 0), (2, 5)]
        assert versions[1].last_used_at == NOW
        assert await uow.keys.public_key(key.id, 2) == b"pub"
        await uow.keys.erase_material(key.id, 1)
    async with database.unit_of_work() as uow:
        assert await uow.keys.material(key.id, 1) is None
        assert await uow.keys.material(key.id, 2) == b"two"
        await uow.keys.erase_material(key.id)
    async with database.unit_of_work() as uow:
        assert await uow.keys.material(key.id, 2) is None
