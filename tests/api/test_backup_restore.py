"""Issue 6: encrypted, signed backups and atomic restore, over the HTTP API.

Two servers, each initialised with its own shares: what one backs up, the other restores,
and everything the first encrypted or signed decrypts and verifies on the second. A bad
archive (a flipped byte anywhere, cut short, the wrong passphrase) is refused with a clear
error and leaves the target exactly as it was.
"""

from __future__ import annotations

import base64
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pyotp
import pytest

from conftest import b64
from identity_support import PASSWORD, Server, running
from keystead.config import Settings, load_settings

PASSPHRASE = "a long backup passphrase, 2026"
MESSAGE = b"settle order 17"
ARCHIVE = "application/vnd.keystead.backup"


def _settings(path: Path) -> Settings:
    return load_settings(
        data_dir=path, insecure_http=True, allow_immediate_destruction=True,
        backup_argon2_memory_kib=8192, backup_argon2_time_cost=1, backup_argon2_parallelism=1,
    )  # fmt: skip


@pytest.fixture
def source(tmp_path: Path) -> Iterator[Server]:
    with running(_settings(tmp_path / "a"), shares=3, threshold=2) as started:
        yield started


@pytest.fixture
def target(tmp_path: Path) -> Iterator[Server]:
    with running(_settings(tmp_path / "b"), shares=3, threshold=2) as started:
        yield started


def _ok(response: object, status: int = 200) -> dict:
    assert response.status_code == status, response.text  # type: ignore[attr-defined]
    return response.json()  # type: ignore[attr-defined]


def _key(server: Server, name: str, spec: str, **extra: object) -> dict:
    return _ok(server.as_root("POST", "/v1/keys", {"name": name, "spec": spec, **extra}), 201)


def backup(server: Server, path: str = "/v1/backups", **body: object) -> bytes:
    response = server.client.post(
        path, json=body or {"passphrase": PASSPHRASE}, headers=server.root
    )
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == ARCHIVE
    return response.content


def restore(
    server: Server,
    archive: bytes,
    passphrase: str | None = PASSPHRASE,
    path: str = "/v1/backups/restore",
    **query: str,
) -> object:
    headers = dict(server.root)
    if passphrase is not None:
        headers["keystead-backup-passphrase"] = b64(passphrase.encode())
    return server.client.post(path, content=archive, headers=headers, params=query)


def snapshot(server: Server) -> list[tuple[dict, list[dict]]]:
    """Every key and its versions, as the API shows them."""
    keys = _ok(server.as_root("GET", "/v1/keys?limit=1000"))["keys"]
    return [(key, _ok(server.as_root("GET", f"/v1/keys/{key['id']}/versions"))["versions"])
            for key in keys]  # fmt: skip


def _encrypt(server: Server, name: str, plaintext: bytes) -> str:
    body = {"plaintext": b64(plaintext), "context": {"order": "17"}}
    return _ok(server.as_root("POST", f"/v1/keys/{name}/encrypt", body))["ciphertext"]


def _decrypt(server: Server, ciphertext: str) -> object:
    return server.as_root(
        "POST", "/v1/decrypt", {"ciphertext": ciphertext, "context": {"order": "17"}}
    )


def _sign(server: Server, name: str) -> str:
    return _ok(server.as_root("POST", f"/v1/keys/{name}/sign", {"message": b64(MESSAGE)}))[
        "signature"
    ]


def _verify(server: Server, name: str, signature: str, version: int) -> bool:
    body = {"message": b64(MESSAGE), "signature": signature, "version": version}
    return _ok(server.as_root("POST", f"/v1/keys/{name}/verify", body))["valid"]


def test_a_backup_restores_into_a_server_with_other_shares(source: Server, target: Server) -> None:
    assert source.shares != target.shares
    made: list[tuple[str, int, str]] = []
    signed: list[tuple[str, int, str]] = []
    for spec in ("AES_256_GCM", "CHACHA20_POLY1305"):
        _key(source, f"enc-{spec}", spec, tags={"team": "payments"}, description="orders")
        for version in (1, 2, 3):
            if version > 1:
                _ok(source.as_root("POST", f"/v1/keys/enc-{spec}/rotate"))
            made.append((f"enc-{spec}", version, _encrypt(source, f"enc-{spec}", b"v%d" % version)))
    for spec in ("ED25519", "EC_SECP256K1", "ML_DSA_44"):
        _key(source, f"sig-{spec}", spec)
        for version in (1, 2, 3):
            if version > 1:
                _ok(source.as_root("POST", f"/v1/keys/sig-{spec}/rotate"))
            signed.append((f"sig-{spec}", version, _sign(source, f"sig-{spec}")))
    _key(source, "kept-out", "AES_256_GCM", backup_allowed=False)
    _ok(source.as_root("POST", "/v1/keys/sig-ED25519/suspend"))

    report = _ok(restore(target, backup(source)))

    assert sorted(report["restored"]) == sorted({name for name, _, _ in made + signed})
    assert report["keys_in_backup"] == 5
    assert report["counts"] == {
        "restored": 5, "revived": 0, "overwritten": 0, "renamed": 0, "skipped": 0,
        "identities_restored": 0, "identities_overwritten": 0, "identities_skipped": 0,
    }  # fmt: skip
    assert (report["revived"], report["skipped"], report["renamed"]) == ([], [], {})
    for name, version, ciphertext in made:
        opened = _ok(_decrypt(target, ciphertext))
        assert base64.b64decode(opened["plaintext"]) == b"v%d" % version
        assert (opened["key_id"], opened["version"]) == (
            _ok(target.as_root("GET", f"/v1/keys/{name}"))["id"],
            version,
        )
    _ok(target.as_root("POST", "/v1/keys/sig-ED25519/resume"))
    for name, version, signature in signed:
        assert _verify(target, name, signature, version)
    restored = _ok(target.as_root("GET", "/v1/keys/enc-AES_256_GCM"))
    original = _ok(source.as_root("GET", "/v1/keys/enc-AES_256_GCM"))
    assert restored == original
    assert (restored["tags"], restored["primary_version"]) == ({"team": "payments"}, 3)
    missing = target.as_root("GET", "/v1/keys/kept-out")
    assert missing.status_code == 404


def test_restored_keys_keep_working_on_the_target(source: Server, target: Server) -> None:
    _key(source, "orders", "AES_256_GCM")
    _ok(restore(target, backup(source)))
    fresh = _encrypt(target, "orders", b"made on the target")
    assert base64.b64decode(_ok(_decrypt(target, fresh))["plaintext"]) == b"made on the target"
    _ok(target.as_root("POST", "/v1/keys/orders/rotate"))
    assert _ok(target.as_root("GET", "/v1/keys/orders"))["primary_version"] == 2


def _destroy(server: Server, name: str) -> None:
    _ok(server.as_root("POST", f"/v1/keys/{name}/deactivate"))
    _ok(server.as_root("POST", f"/v1/keys/{name}/schedule-destruction", {"pending_days": 0}))
    server.clock.advance(timedelta(seconds=1))
    server.client.portal.call(server.services.scheduler.run_once)  # type: ignore[union-attr]
    assert _ok(server.as_root("GET", f"/v1/keys/{name}"))["state"] == "DESTROYED"


def _flip(archive: bytes, at: int) -> bytes:
    return archive[:at] + bytes([archive[at] ^ 0x01]) + archive[at + 1 :]


@pytest.fixture
def archive_of_two(source: Server) -> bytes:
    _key(source, "one", "AES_256_GCM")
    _key(source, "two", "HMAC_SHA256")
    return backup(source)


@pytest.mark.parametrize("where", ["magic", "header", "first record", "last record", "trailer"])
def test_a_flipped_byte_anywhere_is_refused_and_changes_nothing(
    target: Server, archive_of_two: bytes, where: str
) -> None:
    _key(target, "already-here", "AES_256_GCM")
    positions = {
        "magic": 3, "header": 40, "first record": len(archive_of_two) // 2 - 200,
        "last record": len(archive_of_two) - 300, "trailer": len(archive_of_two) - 5,
    }  # fmt: skip
    before = snapshot(target)
    refused = restore(target, _flip(archive_of_two, positions[where]))
    assert refused.status_code == 400, refused.text  # type: ignore[attr-defined]
    assert refused.json()["code"] in {"BackupInvalid", "BackupUnlockFailed"}  # type: ignore[attr-defined]
    assert snapshot(target) == before


def test_every_single_flipped_byte_is_refused(target: Server, source: Server) -> None:
    _key(source, "small", "AES_128_GCM")
    archive = backup(source)
    before = snapshot(target)
    for at in range(0, len(archive), max(1, len(archive) // 97)):
        refused = restore(target, _flip(archive, at))
        assert refused.status_code == 400, (at, refused.text)  # type: ignore[attr-defined]
    assert snapshot(target) == before


@pytest.mark.parametrize("keep", [0, 7, 20, -1, -60, -200])
def test_a_truncated_backup_is_refused_and_changes_nothing(
    target: Server, archive_of_two: bytes, keep: int
) -> None:
    before = snapshot(target)
    refused = restore(target, archive_of_two[:keep])
    assert (refused.status_code, refused.json()["code"]) == (400, "BackupInvalid")  # type: ignore[attr-defined]
    assert "truncated" in refused.json()["detail"] or "magic" in refused.json()["detail"]  # type: ignore[attr-defined]
    assert snapshot(target) == before


def test_bytes_after_the_signed_trailer_are_refused(target: Server, archive_of_two: bytes) -> None:
    refused = restore(target, archive_of_two + b"\x00")
    assert refused.json()["code"] == "BackupInvalid"  # type: ignore[attr-defined]


def test_the_wrong_passphrase_is_refused_and_changes_nothing(
    target: Server, archive_of_two: bytes
) -> None:
    before = snapshot(target)
    refused = restore(target, archive_of_two, passphrase="not the passphrase at all")
    assert (refused.status_code, refused.json()["code"]) == (400, "BackupUnlockFailed")  # type: ignore[attr-defined]
    assert refused.json()["detail"] == "the passphrase does not open this backup"  # type: ignore[attr-defined]
    assert snapshot(target) == before


def test_a_restore_needs_a_passphrase_or_a_recipient_key(
    target: Server, archive_of_two: bytes
) -> None:
    refused = restore(target, archive_of_two, passphrase=None)
    assert (refused.status_code, refused.json()["code"]) == (400, "ValidationFailed")  # type: ignore[attr-defined]
    bad_header = target.client.post(
        "/v1/backups/restore", content=archive_of_two,
        headers={**target.root, "keystead-backup-passphrase": "not base64!"},
    )  # fmt: skip
    assert bad_header.json()["code"] == "ValidationFailed"
    bad_choice = restore(target, archive_of_two, on_conflict="merge")
    assert bad_choice.json()["code"] == "ValidationFailed"  # type: ignore[attr-defined]


def test_a_key_destroyed_after_the_backup_comes_back_deactivated(source: Server) -> None:
    _key(source, "doomed", "AES_256_GCM")
    old = _encrypt(source, "doomed", b"old data")
    archive = backup(source)
    _destroy(source, "doomed")
    assert _ok(source.as_root("GET", "/v1/keys/doomed"))["state"] == "DESTROYED"
    assert _decrypt(source, old).json()["code"] == "KeyDestroyed"  # type: ignore[attr-defined]

    report = _ok(restore(source, archive))

    assert report["revived"] == ["doomed"]
    assert _ok(source.as_root("GET", "/v1/keys/doomed"))["state"] == "DEACTIVATED"
    assert base64.b64decode(_ok(_decrypt(source, old))["plaintext"]) == b"old data"
    refused = source.as_root("POST", "/v1/keys/doomed/encrypt", {"plaintext": b64(b"new")})
    assert (refused.status_code, refused.json()["code"]) == (409, "KeyStateForbidsOperation")


def test_a_key_never_in_a_backup_stays_destroyed(source: Server) -> None:
    archive = backup(source)
    _key(source, "later", "AES_256_GCM")
    old = _encrypt(source, "later", b"gone")
    _key(source, "private", "AES_256_GCM", backup_allowed=False)
    for name in ("later", "private"):
        _destroy(source, name)
    archive_after = backup(source)

    for each in (archive, archive_after):
        report = _ok(restore(source, each))
        assert (report["revived"], report["restored"]) == ([], [])
    assert _ok(source.as_root("GET", "/v1/keys/later"))["state"] == "DESTROYED"
    assert _decrypt(source, old).json()["code"] == "KeyDestroyed"  # type: ignore[attr-defined]
    refused = source.as_root("POST", "/v1/keys/private/backup", {"passphrase": PASSPHRASE})
    assert (refused.status_code, refused.json()["code"]) == (403, "BackupNotAllowed")


def test_the_same_key_here_is_skipped_by_default(source: Server) -> None:
    _key(source, "stays", "AES_256_GCM", description="as backed up")
    archive = backup(source)
    _ok(source.as_root("PATCH", "/v1/keys/stays", {"description": "changed since"}))
    report = _ok(restore(source, archive))
    assert report["skipped"] == ["stays"]
    assert _ok(source.as_root("GET", "/v1/keys/stays"))["description"] == "changed since"


def test_overwrite_takes_metadata_back_but_never_a_lifecycle_state(source: Server) -> None:
    _key(source, "revoked", "AES_256_GCM", description="as backed up", tags={"a": "1"})
    archive = backup(source)
    _ok(source.as_root("PATCH", "/v1/keys/revoked", {"description": "changed", "tags": {}}))
    _ok(source.as_root("POST", "/v1/keys/revoked/revoke", {"reason": "KEY_COMPROMISE"}))
    report = _ok(restore(source, archive, on_conflict="overwrite"))
    assert report["overwritten"] == ["revoked"]
    key = _ok(source.as_root("GET", "/v1/keys/revoked"))
    assert (key["description"], key["tags"]) == ("as backed up", {"a": "1"})
    assert key["state"] == "COMPROMISED"


def test_rename_restores_beside_a_different_key_of_the_same_name(
    source: Server, target: Server
) -> None:
    _key(source, "shared-name", "AES_256_GCM")
    blob = _encrypt(source, "shared-name", b"from the source")
    theirs = _key(target, "shared-name", "AES_256_GCM")
    report = _ok(restore(target, backup(source), on_conflict="rename"))
    assert report["renamed"] == {"shared-name": "shared-name-restored"}
    assert _ok(target.as_root("GET", "/v1/keys/shared-name"))["id"] == theirs["id"]
    assert base64.b64decode(_ok(_decrypt(target, blob))["plaintext"]) == b"from the source"
    again = _ok(restore(target, backup(source), on_conflict="rename"))
    assert again["skipped"] == ["shared-name"]  # the same key (same id) is already here


def test_overwrite_of_a_different_key_refuses_the_whole_restore(
    source: Server, target: Server
) -> None:
    _key(source, "aaa-first", "AES_256_GCM")
    _key(source, "clash", "AES_256_GCM")
    _key(target, "clash", "AES_256_GCM")
    before = snapshot(target)
    refused = restore(target, backup(source), on_conflict="overwrite")
    assert (refused.status_code, refused.json()["code"]) == (409, "RestoreConflict")  # type: ignore[attr-defined]
    assert snapshot(target) == before  # aaa-first, before the clash, was not kept either


def test_single_key_backup_and_restore(source: Server, target: Server) -> None:
    _key(source, "alone", "ED25519")
    _key(source, "other", "AES_256_GCM")
    signature = _sign(source, "alone")
    archive = backup(source, "/v1/keys/alone/backup", passphrase=PASSPHRASE)
    report = _ok(restore(target, archive, path="/v1/keys/alone/restore"))
    assert (report["restored"], report["keys_in_backup"]) == (["alone"], 1)
    assert _verify(target, "alone", signature, 1)

    full = backup(source)
    one = _ok(restore(target, full, path="/v1/keys/other/restore"))
    assert one["restored"] == ["other"]
    absent = restore(target, full, path="/v1/keys/nowhere/restore")
    assert (absent.status_code, absent.json()["code"]) == (404, "KeyNotFound")  # type: ignore[attr-defined]


def _recipient_pem(target: Server, name: str, spec: str) -> str:
    _key(target, name, spec)
    return _ok(target.as_root("GET", f"/v1/keys/{name}/public-key?format=pem"))["public_key"]


@pytest.mark.parametrize("spec", ["RSA_3072", "X25519"])
def test_a_backup_wrapped_for_a_key_of_the_target_opens_only_with_it(
    source: Server, target: Server, spec: str
) -> None:
    pem = _recipient_pem(target, "backup-recipient", spec)
    _key(source, "moving", "AES_256_GCM")
    blob = _encrypt(source, "moving", b"migrated")
    archive = backup(source, recipient=pem)

    by_passphrase = restore(target, archive)
    assert by_passphrase.json()["code"] == "BackupUnlockFailed"  # type: ignore[attr-defined]
    _key(target, "other-recipient", spec)
    wrong = restore(target, archive, passphrase=None, recipient_key="other-recipient")
    assert wrong.json()["code"] == "BackupUnlockFailed"  # type: ignore[attr-defined]
    report = _ok(restore(target, archive, passphrase=None, recipient_key="backup-recipient"))
    assert report["restored"] == ["moving"]
    assert base64.b64decode(_ok(_decrypt(target, blob))["plaintext"]) == b"migrated"


def test_a_recipient_that_is_not_a_public_key_is_refused(source: Server) -> None:
    refused = source.as_root("POST", "/v1/backups", {"recipient": "not a pem"})
    assert (refused.status_code, refused.json()["code"]) == (400, "InvalidPublicKey")
    both = source.as_root("POST", "/v1/backups", {"passphrase": PASSPHRASE, "recipient": "x"})
    assert both.json()["code"] == "ValidationFailed"


def test_a_weak_passphrase_is_refused(source: Server) -> None:
    refused = source.as_root("POST", "/v1/backups", {"passphrase": "short"})
    assert (refused.status_code, refused.json()["code"]) == (400, "WeakPassword")


def test_no_built_in_role_may_back_up_or_restore(source: Server, archive_of_two: bytes) -> None:
    for role in ("admin", "key-admin", "key-user", "auditor"):
        who = source.user_with(f"u-{role}", [role])
        taken = source.client.post("/v1/backups", json={"passphrase": PASSPHRASE}, headers=who)
        assert (taken.status_code, taken.json()["code"]) == (403, "PermissionDenied")
        headers = {**who, "keystead-backup-passphrase": b64(PASSPHRASE.encode())}
        put = source.client.post("/v1/backups/restore", content=archive_of_two, headers=headers)
        assert (put.status_code, put.json()["code"]) == (403, "PermissionDenied")
        one = source.client.post(
            "/v1/keys/one/backup", json={"passphrase": PASSPHRASE}, headers=who
        )
        assert one.status_code == 403


def test_a_policy_naming_backups_create_allows_it(source: Server) -> None:
    _key(source, "k1", "AES_256_GCM")
    statement = {"effect": "allow", "actions": ["backups.create"]}
    _ok(source.as_root("POST", "/v1/policies", {"name": "backup", "statements": [statement]}), 201)
    _ok(source.as_root("POST", "/v1/roles", {"name": "backup", "policies": ["backup"]}), 201)
    who = source.user_with("backup-operator", ["backup"])
    taken = source.client.post("/v1/backups", json={"passphrase": PASSPHRASE}, headers=who)
    assert taken.status_code == 200
    # k1 and the operator's own key pair, made when the user was added
    assert taken.headers["keystead-backup-keys"] == str(len(snapshot(source))) == "2"


def test_the_audit_log_records_backups_and_holds_no_passphrase(
    source: Server, target: Server, archive_of_two: bytes
) -> None:
    _ok(restore(target, archive_of_two))
    for server in (source, target):
        records = _ok(server.as_root("GET", "/v1/audit?limit=500"))["records"]
        actions = {(r["record"]["action"], r["record"]["outcome"]) for r in records}
        wanted = "backups.create" if server is source else "backups.restore"
        assert {(wanted, "begun"), (wanted, "allowed")} <= actions
        assert PASSPHRASE not in str(records)
        assert b64(PASSPHRASE.encode()) not in str(records)


def test_sealed_servers_neither_back_up_nor_restore(source: Server, archive_of_two: bytes) -> None:
    _ok(source.as_root("POST", "/v1/sys/seal"), 200)
    taken = source.client.post("/v1/backups", json={"passphrase": PASSPHRASE}, headers=source.root)
    assert (taken.status_code, taken.json()["code"]) == (503, "Sealed")
    put = restore(source, archive_of_two)
    assert put.json()["code"] == "Sealed"  # type: ignore[attr-defined]


def test_a_backup_taken_before_rotation_restores_over_a_destroyed_rotated_key(
    source: Server,
) -> None:
    _key(source, "rotated", "AES_256_GCM")
    first = _encrypt(source, "rotated", b"first")
    archive = backup(source)
    _ok(source.as_root("POST", "/v1/keys/rotated/rotate"))
    second = _encrypt(source, "rotated", b"second")
    _destroy(source, "rotated")
    _ok(restore(source, archive))
    assert base64.b64decode(_ok(_decrypt(source, first))["plaintext"]) == b"first"
    assert _decrypt(source, second).json()["code"] == "KeyDestroyed"  # type: ignore[attr-defined]


def test_a_report_names_the_first_keys_and_counts_them_all(
    source: Server, target: Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("keystead.services.restore.LISTED_NAMES", 2)
    for name in ("k1", "k2", "k3"):
        _key(source, name, "AES_256_GCM")
    report = _ok(restore(target, backup(source)))
    assert (report["counts"]["restored"], len(report["restored"])) == (3, 2)
    assert set(report["restored"]) < {"k1", "k2", "k3"}  # in id order, which is random
    again = _ok(restore(target, backup(source)))
    assert (again["counts"]["skipped"], len(again["skipped"])) == (3, 2)


def _alice_with_totp(server: Server) -> str:
    """Alice, in a role of an operator's own policy, with TOTP on; her TOTP secret."""
    statement = {"effect": "allow", "actions": ["keys.describe"], "keys": ["orders-*"]}
    _ok(server.as_root("POST", "/v1/policies", {"name": "readers", "statements": [statement]}), 201)
    _ok(server.as_root("POST", "/v1/roles", {"name": "reader", "policies": ["readers"]}), 201)
    session = server.user_with("alice", ["reader"])
    body = {"password": PASSWORD}
    secret = _ok(server.client.post("/v1/auth/totp/enroll", json=body, headers=session))["secret"]
    now = pyotp.TOTP(secret).at(server.clock.now)
    _ok(server.client.post("/v1/auth/totp/confirm", json={"code": now}, headers=session))
    return secret


def test_identities_travel_only_when_asked(source: Server, target: Server) -> None:
    secret = _alice_with_totp(source)
    _key(source, "orders-eu", "AES_256_GCM")
    without = _ok(restore(target, backup(source)))
    assert without["counts"]["identities_restored"] == 0
    assert target.login("alice").status_code == 401

    with_them = backup(source, passphrase=PASSPHRASE, include_identities=True)
    report = _ok(restore(target, with_them))

    # the policy, the role, alice; the key was restored by the first restore
    assert report["counts"]["identities_restored"] == 3
    assert report["counts"]["skipped"] == 2  # orders-eu and alice's own key, already here
    target.clock.now = source.clock.now + timedelta(seconds=60)
    code = pyotp.TOTP(secret).at(target.clock.now)
    assert target.login("alice").json()["code"] == "TotpRequired"
    session = target.login("alice", totp=code)
    assert session.status_code == 200, session.text
    alice = {"authorization": f"Bearer {session.json()['token']}"}
    described = target.client.get("/v1/keys/orders-eu", headers=alice)
    assert described.status_code == 200, described.text
    again = _ok(restore(target, with_them))
    assert again["counts"]["identities_skipped"] == 3


def test_a_user_of_the_same_name_is_never_merged(source: Server, target: Server) -> None:
    source.add_user("bob", ["key-user"])
    _destroy(source, "user:bob")  # so that only the user, not his key, meets its namesake
    target.add_user("bob", [])
    report = _ok(
        restore(target, backup(source, passphrase=PASSPHRASE, include_identities=True),
                on_conflict="overwrite")
    )  # fmt: skip
    assert report["counts"]["identities_skipped"] == 1
    assert target.as_root("GET", "/v1/users/bob").json()["roles"] == []


def test_a_single_key_backup_takes_no_identities(source: Server) -> None:
    _key(source, "solo", "AES_256_GCM")
    body = {"passphrase": PASSPHRASE, "include_identities": True}
    refused = source.as_root("POST", "/v1/keys/solo/backup", body)
    assert (refused.status_code, refused.json()["code"]) == (400, "ValidationFailed")


def test_keys_restore_is_checked_on_the_backed_up_name(source: Server, target: Server) -> None:
    team = _key(source, "team-a", "AES_256_GCM")
    _key(source, "other", "AES_256_GCM")
    archive = backup(source)
    statement = {"effect": "allow", "actions": ["keys.restore"], "keys": ["team-*"]}
    _ok(target.as_root("POST", "/v1/policies", {"name": "team", "statements": [statement]}), 201)
    _ok(target.as_root("POST", "/v1/roles", {"name": "team", "policies": ["team"]}), 201)
    who = target.user_with("restorer", ["team"])
    headers = {**who, "keystead-backup-passphrase": b64(PASSPHRASE.encode())}

    def put(reference: str) -> object:
        return target.client.post(f"/v1/keys/{reference}/restore", content=archive, headers=headers)

    refused = put("other")
    assert (refused.status_code, refused.json()["code"]) == (403, "PermissionDenied")
    by_id_of_other = put(_ok(source.as_root("GET", "/v1/keys/other"))["id"])
    assert by_id_of_other.status_code == 403
    by_id = put(team["id"])
    assert (by_id.status_code, by_id.json()["restored"]) == (200, ["team-a"])
