"""Issue 5, must-show 2: a workflow that calls every endpoint, then the audit log is read.

Each request's ending appears exactly once, with its principal and outcome, and each that
changed state was recorded as begun before it ran; none of the workflow's
secrets (plaintexts, key material, passwords, tokens, TOTP codes, shares) appears in the
audit log, the file sink or the server log.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import httpx
import pyotp

from conftest import b64
from endpoint_calls import endpoint_path, request_bodies
from identity_support import PASSWORD, running
from keystead.api.app import endpoint_table
from keystead.api.audit_events import UNAUDITED, changes_state
from keystead.api.metrics import Metrics
from keystead.config import load_settings

SECRET_TEXT = b"the plaintext nobody may log"
LAST = ("sys.seal", "auth.logout")


def _outcome(response: httpx.Response) -> str:
    if response.status_code < 400:
        return "allowed"
    code = response.json().get("code", "")
    refused = {"Unauthenticated", "PermissionDenied", "InvalidCredentials", "TotpRequired",
               "RegistrationClosed", "KeyNotExportable"}  # fmt: skip
    return "refused" if code in refused else "failed"


def _check_records(
    rows: list[dict], sent: list[tuple[httpx.Response, str, str]], changing: set[str]
) -> None:
    ended: dict[str, list[dict]] = {}
    begun: dict[str, list[dict]] = {}
    for row in rows:
        into = begun if row["outcome"] == "begun" else ended
        into.setdefault(row["request_id"], []).append(row)
    assert all(len(found) == 1 for found in ended.values()), "a request's ending recorded twice"
    assert all(len(found) == 1 for found in begun.values()), "a request begun twice"
    assert set(begun) <= set(ended)
    for response, principal, action in sent:
        request_id = response.headers["x-request-id"]
        (row,) = ended[request_id]
        expected = (principal, action, _outcome(response), response.status_code)
        assert (row["principal"], row["action"], row["outcome"], row["status"]) == expected
        if request_id in begun:
            (first,) = begun[request_id]
            assert action in changing
            assert (first["principal"], first["action"], first["status"]) == (principal, action, 0)
            assert first["seq"] < row["seq"]
        # Every change that was made was recorded before it was made.
        if action in changing and response.status_code < 400:
            assert request_id in begun, f"{action} changed state unannounced"


def test_every_endpoint_is_recorded_once_and_no_secret_is(
    tmp_path: Path, capfd, configured_logging
) -> None:
    configured_logging("debug", "json")
    sink = tmp_path / "audit.jsonl"
    settings = load_settings(data_dir=tmp_path / "d", insecure_http=True, audit_file=sink)
    sent: list[tuple[httpx.Response, str, str]] = []
    with running(settings) as server:
        server.add_user("alice", ["key-user", "auditor"])
        login = server.login("alice")
        alice_token = login.json()["token"]
        alice = {"authorization": f"Bearer {alice_token}"}
        enrolled = server.client.post(
            "/v1/auth/totp/enroll", json={"password": PASSWORD}, headers=alice
        ).json()
        code = pyotp.TOTP(enrolled["secret"]).at(server.clock.now)
        server.client.post("/v1/auth/totp/confirm", json={"code": code}, headers=alice)
        matrix = {"name": "matrix", "spec": "AES_256_GCM", "exportable": True}
        server.as_root("POST", "/v1/keys", matrix)
        encrypted = server.as_root(
            "POST", "/v1/keys/matrix/encrypt", {"plaintext": b64(SECRET_TEXT)}
        ).json()
        data_key = server.as_root(
            "POST", "/v1/keys/matrix/data-key", {"spec": "AES_256", "plaintext": True}
        ).json()
        for name, body in (("target", {"effect": "allow", "actions": ["*"]}),):
            server.as_root("POST", "/v1/policies", {"name": name, "statements": [body]})
        server.as_root("POST", "/v1/roles", {"name": "target", "policies": ["target"]})
        server.add_user("target", [])
        bodies = request_bodies({"ciphertext": encrypted["ciphertext"]})
        table = [e for e in endpoint_table(Metrics()) if e.action not in UNAUDITED]
        ordered = sorted(table, key=lambda e: LAST.index(e.action) if e.action in LAST else -1)
        for endpoint in ordered:
            if endpoint.action == "sys.init":
                continue  # answered once already, by running()
            headers = server.root if endpoint.auth else {}
            response = server.client.request(
                endpoint.method, endpoint_path(endpoint.path),
                json=bodies.get(endpoint.action, {}), headers=headers,
            )  # fmt: skip
            sent.append((response, "root" if endpoint.auth else "anonymous", endpoint.action))
        with sqlite3.connect(settings.data_dir / "keystead.db") as db:
            rows = [json.loads(body) for (body,) in db.execute("SELECT body FROM audit_log")]
    changing = {e.action for e in table if changes_state(e.method, e.action)}
    _check_records(rows, sent, changing)
    assert {action for _, _, action in sent} >= {e.action for e in table} - {"sys.init"}
    out, err = capfd.readouterr()
    audit_text = json.dumps(rows) + sink.read_text()
    secrets = [
        PASSWORD, alice_token, server.root["authorization"][7:], *server.shares,
        b64(SECRET_TEXT), SECRET_TEXT.decode(), encrypted["ciphertext"], data_key["plaintext"],
        enrolled["secret"], f'"{code}"',  # six digits: only as a value, not inside a time
    ]  # fmt: skip
    for secret in secrets:
        assert secret not in audit_text
        assert secret not in out + err
