"""Issue 5, first step: every request lands once in a hash-chained audit log; tampering is named.

Covered here: one record per request with the right principal and outcome, no secret in the
log, verification naming the exact record after an edit, a deletion, a swap, a forged
append or a truncated tail (on the raw SQLite rows), and fail-closed writes.
"""

from __future__ import annotations

import asyncio
import json
import re
import sqlite3
import stat
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ed25519

from conftest import b64
from identity_support import PASSWORD, Server, running
from keystead.audit.export import verify_export
from keystead.config import Settings, load_settings
from keystead.crypto import asymmetric, keygen
from keystead.crypto.hashing import chain_hash


@pytest.fixture
def server(settings: Settings) -> Iterator[Server]:
    with running(settings) as started:
        yield started


def _database(settings: Settings) -> Path:
    return settings.data_dir / "keystead.db"


def _records(server: Server, auditor: dict[str, str], **filters: str) -> list[dict]:
    found, cursor = [], "0"
    while cursor is not None:
        page = server.client.get(
            "/v1/audit", params={**filters, "cursor": cursor, "limit": "50"}, headers=auditor
        )
        assert page.status_code == 200, page.text
        found.extend(page.json()["records"])
        cursor = page.json()["next_cursor"]
    return found


def _verify(server: Server, auditor: dict[str, str]) -> dict:
    response = server.client.get("/v1/audit/verify", headers=auditor)
    assert response.status_code == 200, response.text
    return response.json()


def test_each_request_is_recorded_once_with_its_principal_and_outcome(server: Server) -> None:
    auditor = server.user_with("ada", ["auditor"])
    alice = server.user_with("alice", ["key-user"])
    answers = [
        (server.as_root("POST", "/v1/keys", {"name": "orders", "spec": "AES_256_GCM"}),
         "root", "allowed", "keys.create"),
        (server.as_root("POST", "/v1/keys/orders/grants",
                        {"principal": "alice", "operations": ["encrypt"]}),
         "root", "allowed", "grants.create"),
        (server.client.post("/v1/keys/orders/encrypt", json={"plaintext": b64(b"x")},
                            headers=alice), "alice", "allowed", "keys.encrypt"),
        (server.client.post("/v1/keys/orders/rotate", headers=alice),
         "alice", "refused", "keys.rotate"),
        (server.client.post("/v1/keys/orders/encrypt", json={"plaintext": "not base64!"},
                            headers=alice), "alice", "failed", "keys.encrypt"),
        (server.client.get("/v1/keys"), "anonymous", "refused", "keys.list"),
    ]  # fmt: skip
    records = _records(server, auditor)
    by_request: dict[str, list[dict]] = {}
    begun: dict[str, list[dict]] = {}
    for record in records:
        into = begun if record["record"]["outcome"] == "begun" else by_request
        into.setdefault(record["record"]["request_id"], []).append(record["record"])
    assert all(len(found) == 1 for found in by_request.values()), "a request recorded twice"
    for response, principal, outcome, action in answers:
        (record,) = by_request[response.headers["x-request-id"]]
        assert (record["principal"], record["outcome"], record["action"]) == (
            principal, outcome, action,
        ), record  # fmt: skip
        assert record["status"] == response.status_code
    # Those that may change state were recorded first as begun (alice's rotate too: she was
    # refused by the key's rules, which the service applies as the request runs).
    announced = [
        begun[r.headers["x-request-id"]] for r, *_ in answers if r.headers["x-request-id"] in begun
    ]
    assert [(b["principal"], b["action"], b["status"]) for (b,) in announced] == [
        ("root", "keys.create", 0), ("root", "grants.create", 0), ("alice", "keys.rotate", 0),
    ]  # fmt: skip
    encrypted = by_request[answers[2][0].headers["x-request-id"]][0]
    assert (encrypted["key"], encrypted["version"]) == ("orders", 1)
    assert encrypted["key_id"] == answers[0][0].json()["id"]
    assert by_request[answers[3][0].headers["x-request-id"]][0]["code"] == "PermissionDenied"
    assert [r["seq"] for r in records] == list(range(1, len(records) + 1))
    assert _verify(server, auditor) == {
        "valid": True, "records": len(records) + 1, "first_bad": None, "reason": None,
    }  # fmt: skip


def test_filters_select_by_principal_key_action_and_outcome(server: Server) -> None:
    auditor = server.user_with("ada", ["auditor"])
    key = server.as_root("POST", "/v1/keys", {"name": "k", "spec": "AES_256_GCM"}).json()
    server.as_root("POST", "/v1/keys/k/encrypt", {"plaintext": b64(b"x")})
    server.client.get("/v1/keys")
    by_key = _records(server, auditor, key_id=key["id"])
    assert [r["record"]["action"] for r in by_key] == ["keys.create", "keys.encrypt"]
    refused = _records(server, auditor, outcome="refused", principal="anonymous")
    assert [r["record"]["action"] for r in refused] == ["keys.list"]
    assert [r["record"]["principal"] for r in _records(server, auditor, action="keys.encrypt")] == [
        "root"
    ]
    bad = server.client.get("/v1/audit", params={"outcome": "maybe"}, headers=auditor)
    assert (bad.status_code, bad.json()["code"]) == (400, "ValidationFailed")
    bad = server.client.get("/v1/audit", params={"since": "yesterday"}, headers=auditor)
    assert (bad.status_code, bad.json()["code"]) == (400, "ValidationFailed")


def test_no_secret_reaches_the_audit_log(server: Server, settings: Settings) -> None:
    server.add_user("alice", ["key-user"])
    token = server.login("alice").json()["token"]
    server.as_root("POST", "/v1/keys", {"name": "k", "spec": "AES_256_GCM"})
    plaintext = b64(b"the launch codes")
    encrypted = server.as_root("POST", "/v1/keys/k/encrypt", {"plaintext": plaintext}).json()
    server.as_root("POST", "/v1/decrypt", {"ciphertext": encrypted["ciphertext"]})
    with sqlite3.connect(_database(settings)) as db:
        rows = "\n".join(body for (body,) in db.execute("SELECT body FROM audit_log"))
    assert "auth.login" in rows
    for secret in (PASSWORD, token, server.root["authorization"][7:], plaintext,
                   encrypted["ciphertext"], *server.shares):  # fmt: skip
        assert secret not in rows


def _tamper(settings: Settings, *statements: tuple[str, tuple]) -> None:
    with sqlite3.connect(_database(settings)) as db:
        for statement, values in statements:
            db.execute(statement, values)


def _some_records(server: Server) -> dict[str, str]:
    auditor = server.user_with("ada", ["auditor"])
    for number in range(6):
        server.as_root("POST", "/v1/keys", {"name": f"k{number}", "spec": "AES_256_GCM"})
    assert _verify(server, auditor)["valid"] is True
    return auditor


def _first_bad(server: Server, auditor: dict[str, str]) -> tuple[int, str]:
    verdict = _verify(server, auditor)
    assert verdict["valid"] is False
    return verdict["first_bad"], verdict["reason"]


def test_an_edited_record_is_named(server: Server, settings: Settings) -> None:
    auditor = _some_records(server)
    with sqlite3.connect(_database(settings)) as db:
        (body,) = db.execute("SELECT body FROM audit_log WHERE seq = 5").fetchone()
    edited = re.sub(r'"outcome":"[a-z]+"', '"outcome":"refused"', body)
    assert edited != body
    _tamper(settings, ("UPDATE audit_log SET body = ? WHERE seq = 5", (edited,)))
    assert _first_bad(server, auditor)[0] == 5
    assert "edited" in _first_bad(server, auditor)[1]


def test_an_edited_filter_column_is_named(server: Server, settings: Settings) -> None:
    auditor = _some_records(server)
    _tamper(settings, ("UPDATE audit_log SET principal = 'mallory' WHERE seq = 4", ()))
    assert _first_bad(server, auditor) == (4, "its principal column differs from its body")


def test_a_deleted_record_is_named(server: Server, settings: Settings) -> None:
    auditor = _some_records(server)
    _tamper(settings, ("DELETE FROM audit_log WHERE seq = 3", ()))
    seq, reason = _first_bad(server, auditor)
    assert seq == 3
    assert "missing" in reason


def test_two_swapped_records_are_named(server: Server, settings: Settings) -> None:
    auditor = _some_records(server)
    _tamper(
        settings,
        ("UPDATE audit_log SET seq = -1 WHERE seq = 4", ()),
        ("UPDATE audit_log SET seq = 4 WHERE seq = 5", ()),
        ("UPDATE audit_log SET seq = 5 WHERE seq = -1", ()),
    )
    assert _first_bad(server, auditor)[0] == 4


def test_a_forged_record_appended_is_named(server: Server, settings: Settings) -> None:
    auditor = _some_records(server)
    with sqlite3.connect(_database(settings)) as db:
        seq, body, entry = db.execute(
            "SELECT seq, body, entry_hash FROM audit_log ORDER BY seq DESC LIMIT 1"
        ).fetchone()
    forged = body.replace(f'"seq":{seq}', f'"seq":{seq + 1}').encode()
    insert = (
        "INSERT INTO audit_log (seq, time, principal, action, key_id, outcome, body, prev_hash,"
        " entry_hash) SELECT ?, time, principal, action, key_id, outcome, ?, ?, ? FROM audit_log"
        " WHERE seq = ?"
    )
    _tamper(settings, (insert, (seq + 1, forged.decode(), entry, chain_hash(entry, forged), seq)))
    # Even with every link computed right, a record past the head was not written by Keystead.
    verdict = server.client.portal.call(server.services.audit.verify)  # type: ignore[union-attr]
    assert (verdict.valid, verdict.first_bad, verdict.reason) == (
        False, seq + 1, "it follows the recorded head: it was not appended by Keystead",
    )  # fmt: skip
    # And nothing more is appended after a forged record: requests fail closed.
    refused = server.client.get("/v1/audit/verify", headers=auditor)
    assert (refused.status_code, refused.json()["code"]) == (503, "AuditWriteFailed")


def test_a_truncated_tail_is_named(server: Server, settings: Settings) -> None:
    auditor = _some_records(server)
    with sqlite3.connect(_database(settings)) as db:
        (last,) = db.execute("SELECT MAX(seq) FROM audit_log").fetchone()
    _tamper(settings, ("DELETE FROM audit_log WHERE seq > ?", (last - 3,)))
    seq, reason = _first_bad(server, auditor)
    assert seq == last - 2
    assert "missing" in reason


def test_when_the_audit_store_fails_requests_fail_closed(
    server: Server, settings: Settings
) -> None:
    auditor = server.user_with("ada", ["auditor"])
    server.as_root("POST", "/v1/keys", {"name": "k", "spec": "AES_256_GCM"})
    trigger = (
        "CREATE TRIGGER audit_down BEFORE INSERT ON audit_log "
        "BEGIN SELECT RAISE(ABORT, 'audit store down'); END"
    )
    _tamper(settings, (trigger, ()))
    failed = server.as_root("POST", "/v1/keys/k/encrypt", {"plaintext": b64(b"x")})
    assert (failed.status_code, failed.json()["code"]) == (503, "AuditWriteFailed")
    assert "ciphertext" not in failed.text
    # While the store is broken, requests are refused before they run: this key is not made.
    refused = server.as_root("POST", "/v1/keys", {"name": "unrecorded", "spec": "AES_256_GCM"})
    assert (refused.status_code, refused.json()["code"]) == (503, "AuditWriteFailed")
    _tamper(settings, ("DROP TRIGGER audit_down", ()))
    time.sleep(1.1)  # the writer lets a request through again one second after a failure
    assert server.as_root("GET", "/v1/keys/unrecorded").status_code == 404
    assert server.as_root("POST", "/v1/keys/k/encrypt", {"plaintext": b64(b"x")}).status_code == 200
    assert _verify(server, auditor)["valid"] is True


def test_a_change_whose_ending_cannot_be_recorded_was_recorded_as_begun(
    server: Server, settings: Settings
) -> None:
    auditor = server.user_with("ada", ["auditor"])
    # The store takes the "begun" record, then fails on the ending: the key is made, the
    # answer is 503, and the log still says who set out to make it.
    trigger = (
        "CREATE TRIGGER endings_down BEFORE INSERT ON audit_log WHEN NEW.outcome != 'begun' "
        "BEGIN SELECT RAISE(ABORT, 'audit store down'); END"
    )
    _tamper(settings, (trigger, ()))
    made = server.as_root("POST", "/v1/keys", {"name": "half-recorded", "spec": "AES_256_GCM"})
    assert (made.status_code, made.json()["code"]) == (503, "AuditWriteFailed")
    _tamper(settings, ("DROP TRIGGER endings_down", ()))
    time.sleep(1.1)  # the writer lets a request through again one second after a failure
    assert server.as_root("GET", "/v1/keys/half-recorded").status_code == 200
    with sqlite3.connect(_database(settings)) as db:
        bodies = [json.loads(b) for (b,) in db.execute("SELECT body FROM audit_log")]
    mine = [b for b in bodies if b["request_id"] == made.headers["x-request-id"]]
    assert [(b["outcome"], b["principal"], b["action"], b["key"]) for b in mine] == [
        ("begun", "root", "keys.create", None),
    ]
    assert _verify(server, auditor)["valid"] is True


def test_a_change_is_not_made_when_its_begun_record_cannot_be_written(
    server: Server, settings: Settings
) -> None:
    trigger = (
        "CREATE TRIGGER begun_down BEFORE INSERT ON audit_log WHEN NEW.outcome = 'begun' "
        "BEGIN SELECT RAISE(ABORT, 'audit store down'); END"
    )
    _tamper(settings, (trigger, ()))
    made = server.as_root("POST", "/v1/keys", {"name": "never-made", "spec": "AES_256_GCM"})
    assert (made.status_code, made.json()["code"]) == (503, "AuditWriteFailed")
    _tamper(settings, ("DROP TRIGGER begun_down", ()))
    time.sleep(1.1)
    assert server.as_root("GET", "/v1/keys/never-made").status_code == 404


@pytest.fixture
def checkpointed(tmp_path: Path) -> Iterator[tuple[Server, Settings]]:
    settings = load_settings(
        data_dir=tmp_path / "cp", insecure_http=True, audit_checkpoint_interval=4
    )
    with running(settings) as started:
        yield started, settings


def _workload(server: Server) -> dict[str, str]:
    auditor = server.user_with("ada", ["auditor"])
    for number in range(5):
        server.as_root("POST", "/v1/keys", {"name": f"k{number}", "spec": "AES_256_GCM"})
        server.as_root("POST", f"/v1/keys/k{number}/encrypt", {"plaintext": b64(b"x")})
    return auditor


def test_checkpoints_are_signed_with_the_published_key(checkpointed) -> None:
    server, settings = checkpointed
    auditor = _workload(server)
    pem = server.client.get("/v1/audit/public-key", headers=auditor).json()["public_key"]
    public = serialization.load_pem_public_key(pem.encode())
    assert isinstance(public, ed25519.Ed25519PublicKey)
    with sqlite3.connect(_database(settings)) as db:
        rows = db.execute(
            "SELECT seq, time, entry_hash, signature FROM audit_checkpoints"
        ).fetchall()
        hashes = dict(db.execute("SELECT seq, entry_hash FROM audit_log").fetchall())
    assert len(rows) >= 3
    for seq, moment, entry_hash, signature in rows:
        assert hashes[seq] == entry_hash
        signed = (
            b"keystead/audit-checkpoint/v1"
            + json.dumps(
                {"entry_hash": entry_hash.hex(), "seq": seq, "time": moment}, separators=(",", ":")
            ).encode()
        )
        public.verify(signature, signed)  # outside Keystead: the cryptography package alone
    assert _verify(server, auditor)["valid"] is True


def test_a_tail_cut_after_a_checkpoint_is_named_even_with_the_head_rewritten(checkpointed) -> None:
    server, settings = checkpointed
    _workload(server)
    with sqlite3.connect(_database(settings)) as db:
        (checkpoint,) = db.execute("SELECT MAX(seq) FROM audit_checkpoints").fetchone()
        cut = checkpoint - 2
        (entry,) = db.execute("SELECT entry_hash FROM audit_log WHERE seq = ?", (cut,)).fetchone()
        db.execute("DELETE FROM audit_log WHERE seq > ?", (cut,))
        db.execute("UPDATE audit_head SET seq = ?, entry_hash = ?", (cut, entry))
    verdict = server.client.portal.call(server.services.audit.verify)  # type: ignore[union-attr]
    assert (verdict.valid, verdict.first_bad) == (False, cut + 1)
    assert "signed checkpoint" in (verdict.reason or "")


def _export(server: Server, auditor: dict[str, str]) -> list[str]:
    response = server.client.get("/v1/audit/export", headers=auditor)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"].startswith("application/x-ndjson")
    return response.text.splitlines(keepends=True)


def _offline(lines: list[str], pem: bytes):
    return asyncio.run(verify_export(lines, pem))


def test_an_exported_file_verifies_offline_and_names_each_tampering(checkpointed) -> None:
    server, _ = checkpointed
    auditor = _workload(server)
    lines = _export(server, auditor)
    pem = server.client.get("/v1/audit/public-key", headers=auditor).json()["public_key"].encode()
    kinds = [json.loads(line)["type"] for line in lines]
    assert kinds[-1] == "head"
    assert "checkpoint" in kinds
    records = [i for i, kind in enumerate(kinds) if kind == "record"]
    good = _offline(lines, pem)
    assert (good.valid, good.records) == (True, len(records))

    def seq_at(index: int) -> int:
        return json.loads(lines[index])["seq"]

    edited = list(lines)
    item = json.loads(edited[records[3]])
    item["body"] = re.sub(r'"outcome":"[a-z]+"', '"outcome":"refused"', item["body"])
    assert item["body"] != json.loads(lines[records[3]])["body"]
    edited[records[3]] = json.dumps(item) + "\n"
    assert _offline(edited, pem).first_bad == seq_at(records[3])

    deleted = [line for i, line in enumerate(lines) if i != records[5]]
    assert _offline(deleted, pem).first_bad == seq_at(records[5])

    swapped = list(lines)
    swapped[records[6]], swapped[records[7]] = swapped[records[7]], swapped[records[6]]
    assert _offline(swapped, pem).first_bad == seq_at(records[6])

    last = json.loads(lines[records[-1]])
    body = last["body"].replace(f'"seq":{last["seq"]}', f'"seq":{last["seq"] + 1}')
    forged_entry = chain_hash(bytes.fromhex(last["entry_hash"]), body.encode())
    forged = {"type": "record", "seq": last["seq"] + 1, "body": body,
              "prev_hash": last["entry_hash"], "entry_hash": forged_entry.hex()}  # fmt: skip
    appended = [*lines[:-1], json.dumps(forged) + "\n", lines[-1]]
    assert _offline(appended, pem).first_bad == last["seq"] + 1

    last_checkpoint = max(i for i, kind in enumerate(kinds) if kind == "checkpoint")
    truncated = lines[: last_checkpoint + 1]  # the signed head is gone with the tail
    verdict = _offline(truncated, pem)
    assert (verdict.valid, verdict.first_bad) == (
        False,
        json.loads(lines[last_checkpoint])["seq"] + 1,
    )

    other = asymmetric.der_to_pem(keygen.generate("ED25519").public_key or b"").encode()
    assert _offline(lines, other).valid is False


def test_the_encryption_context_is_kept_only_as_an_hmac(server: Server, settings: Settings) -> None:
    auditor = server.user_with("ada", ["auditor"])
    server.as_root("POST", "/v1/keys", {"name": "k", "spec": "AES_256_GCM"})
    for tenant in ("acme-secret-tenant", "acme-secret-tenant", "globex-other-tenant"):
        body = {"plaintext": b64(b"x"), "context": {"tenant": tenant}}
        assert server.as_root("POST", "/v1/keys/k/encrypt", body).status_code == 200
    encrypts = _records(server, auditor, action="keys.encrypt")
    digests = [r["record"]["context_hmac"] for r in encrypts]
    assert digests[0] == digests[1] != digests[2]
    assert all(len(d) == 64 and int(d, 16) >= 0 for d in digests)
    with sqlite3.connect(_database(settings)) as db:
        rows = "\n".join(body for (body,) in db.execute("SELECT body FROM audit_log"))
    assert "acme-secret-tenant" not in rows
    assert "globex" not in rows


def test_the_file_sink_holds_the_same_records_in_order_and_rotates(tmp_path: Path) -> None:
    sink = tmp_path / "audit" / "audit.jsonl"
    sink.parent.mkdir()
    settings = load_settings(
        data_dir=tmp_path / "d", insecure_http=True, audit_file=sink, audit_file_max_bytes=4096,
        audit_file_keep=50, audit_checkpoint_interval=5,
    )  # fmt: skip
    with running(settings) as server:
        auditor = _workload(server)
        stored = _records(server, auditor)
    files = sorted(sink.parent.glob("audit.jsonl.*"), key=lambda p: -int(p.suffix[1:]))
    assert files, "the sink never rotated at 4 KiB"
    assert all(p.stat().st_size <= 4096 for p in files)
    assert stat.S_IMODE(sink.stat().st_mode) == 0o600
    lines = [json.loads(line) for p in [*files, sink] for line in p.read_text().splitlines()]
    records = [line for line in lines if line["type"] == "record"]
    assert [r["seq"] for r in records] == list(range(1, len(records) + 1))
    by_seq = {r["seq"]: r for r in stored}
    for record in records:
        if record["seq"] in by_seq:
            assert json.loads(record["body"]) == by_seq[record["seq"]]["record"]
            assert record["entry_hash"] == by_seq[record["seq"]]["entry_hash"]
    assert any(line["type"] == "checkpoint" for line in lines)


def test_a_forged_or_moved_checkpoint_in_an_export_is_named(checkpointed) -> None:
    server, _ = checkpointed
    auditor = _workload(server)
    lines = _export(server, auditor)
    pem = server.client.get("/v1/audit/public-key", headers=auditor).json()["public_key"].encode()
    index = next(i for i, line in enumerate(lines) if json.loads(line)["type"] == "checkpoint")
    checkpoint = json.loads(lines[index])
    # A checkpoint whose hash is changed no longer carries a valid signature.
    forged = dict(checkpoint, entry_hash="00" * 32)
    verdict = _offline([*lines[:index], json.dumps(forged) + "\n", *lines[index + 1 :]], pem)
    assert (verdict.valid, verdict.first_bad) == (False, checkpoint["seq"])
    assert "not signed by the audit key" in (verdict.reason or "")
    # A genuine checkpoint moved onto another record: its signature covers its position.
    later = next(
        json.loads(line)["seq"]
        for line in lines[index + 1 :]
        if json.loads(line)["type"] == "record"
    )
    moved = dict(checkpoint, seq=later)
    verdict = _offline([*lines[:index], json.dumps(moved) + "\n", *lines[index + 1 :]], pem)
    assert (verdict.valid, verdict.first_bad) == (False, later)
