"""``client.backups``: create and restore through the SDK.

The sync client runs against two real in-process servers (on their test transports); the
async client against a canned server holding a real archive, to check what it sends.
"""

from __future__ import annotations

import base64
import io
import json
import os
import stat
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from identity_support import Server, forwarding_transport, running
from keystead.config import Settings, load_settings
from keystead_sdk import AsyncClient, BackupInvalid, BackupUnlockFailed, Client, ValidationFailed
from sdk_harness import anyio_backend, clean_env

__all__ = ["anyio_backend", "clean_env"]

PASSPHRASE = "the SDK's backup passphrase"


def _settings(path: Path) -> Settings:
    return load_settings(
        data_dir=path, insecure_http=True, backup_argon2_memory_kib=8192,
        backup_argon2_time_cost=1, backup_argon2_parallelism=1,
    )  # fmt: skip


def _client(server: Server) -> Client:
    token = server.root["authorization"].removeprefix("Bearer ")
    return Client("https://t", token=token, transport=forwarding_transport(server))


@pytest.fixture
def pair(tmp_path: Path) -> Iterator[tuple[Server, Server]]:
    with running(_settings(tmp_path / "a")) as source, running(_settings(tmp_path / "b")) as target:
        for name in ("alpha", "beta", "gamma"):
            made = source.as_root("POST", "/v1/keys", {"name": name, "spec": "HMAC_SHA256"})
            assert made.status_code == 201
        yield source, target


def test_create_streams_to_a_private_file_and_restore_reads_it_back(
    pair: tuple[Server, Server], tmp_path: Path
) -> None:
    source, target = pair
    archive = tmp_path / "all.kst"
    seen: list[tuple[int, int]] = []
    with _client(source) as client:
        written = client.backups.create(
            archive, passphrase=PASSPHRASE, progress=lambda d, t: seen.append((d, t))
        )
    assert (written.keys, written.bytes_written) == (3, archive.stat().st_size)
    assert len(written.signer) == 64
    assert stat.S_IMODE(archive.stat().st_mode) == 0o600
    assert seen[-1] == (3, 3)
    sent: list[tuple[int, int]] = []
    with _client(target) as client:
        report = client.backups.restore(
            archive, passphrase=PASSPHRASE, progress=lambda s, t: sent.append((s, t))
        )
    assert sorted(report.restored) == ["alpha", "beta", "gamma"]
    assert report.counts["restored"] == 3
    assert report.signer == written.signer
    assert sent[-1] == (archive.stat().st_size, archive.stat().st_size)


def test_one_key_to_a_writer_and_back_from_an_open_file(pair: tuple[Server, Server]) -> None:
    source, target = pair
    buffer = io.BytesIO()
    with _client(source) as client:
        written = client.backups.create(buffer, passphrase=PASSPHRASE, key="beta")
    assert written.keys == 1
    buffer.seek(0)
    with _client(target) as client:
        report = client.backups.restore(buffer, passphrase=PASSPHRASE, key="beta")
    assert report.restored == ["beta"]


def test_errors_come_back_as_their_sdk_classes(pair: tuple[Server, Server], tmp_path: Path) -> None:
    source, target = pair
    archive = tmp_path / "all.kst"
    with _client(source) as client:
        with pytest.raises(ValidationFailed) as weak:
            client.backups.create(archive, passphrase="short")
        assert weak.value.code == "WeakPassword"
        assert not archive.exists()  # nothing left behind
        client.backups.create(archive, passphrase=PASSPHRASE)
    with _client(target) as client:
        with pytest.raises(BackupUnlockFailed):
            client.backups.restore(archive, passphrase="not the passphrase, at all")
        cut = io.BytesIO(archive.read_bytes()[:-1])
        with pytest.raises(BackupInvalid, match="truncated"):
            client.backups.restore(cut, passphrase=PASSPHRASE)
        with pytest.raises(ValueError, match="not both"):
            client.backups.restore(archive, passphrase=PASSPHRASE, recipient_key="k")
        with pytest.raises(ValueError, match="on_conflict"):
            client.backups.restore(archive, passphrase=PASSPHRASE, on_conflict="merge")
        with pytest.raises(ValueError, match="not both"):
            client.backups.create(archive, passphrase=PASSPHRASE, recipient="pem")
    assert target.as_root("GET", "/v1/keys").json()["keys"] == []


@pytest.mark.anyio
async def test_the_async_client_sends_what_the_sync_one_does(
    pair: tuple[Server, Server], tmp_path: Path
) -> None:
    source, _ = pair
    archive = io.BytesIO()
    with _client(source) as client:
        client.backups.create(archive, passphrase=PASSPHRASE)
    requests: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        requests.append(request)
        if request.url.path == "/v1/backups":
            headers = {
                "content-type": "application/vnd.keystead.backup",
                "keystead-backup-keys": "3", "keystead-backup-signer": "ab" * 32,
            }  # fmt: skip
            return httpx.Response(200, content=archive.getvalue(), headers=headers)
        report = {"signer": "ab" * 32, "created_at": "2026-12-01T00:00:00Z",
                  "keys_in_backup": 3, "counts": {"restored": 3}, "restored": ["a", "b", "c"],
                  "revived": [], "overwritten": [], "skipped": [], "renamed": {}}  # fmt: skip
        return httpx.Response(200, json=report)

    target = tmp_path / "async.kst"
    transport = httpx.MockTransport(answer)
    async with AsyncClient("https://t", token="t", transport=transport) as client:
        written = await client.backups.create(target, passphrase=PASSPHRASE)
        report = await client.backups.restore(
            target, passphrase=PASSPHRASE, on_conflict="rename", key="a/b"
        )
    assert written.keys == 3
    assert report.counts == {"restored": 3}
    create, upload = requests
    assert json.loads(create.content) == {"passphrase": PASSPHRASE}
    assert upload.url.raw_path.decode() == "/v1/keys/a%2Fb/restore?on_conflict=rename"
    assert base64.b64decode(upload.headers["keystead-backup-passphrase"]).decode() == PASSPHRASE
    assert upload.content == archive.getvalue()
    assert PASSPHRASE not in str(upload.url)
    assert os.environ.get("KEYSTEAD_TOKEN") is None
