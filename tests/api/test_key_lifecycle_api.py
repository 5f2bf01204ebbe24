"""The lifecycle of section 3 over the API: every state x operation and every transition.

The expectations are generated from the one table of the domain (STYLE.md C7, C8), so a
change to the table changes what is tested; issue 3, must-show 2.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from conftest import Initialized, b64
from keystead.domain.lifecycle import ALLOWED_TRANSITIONS, KeyState
from keystead.domain.operations import DESTROYED_STATES, PERMITTED_OPERATIONS, KeyOperation

S = KeyState
MESSAGE = b64(b"transfer 10 to bob")


class Keys:
    """Makes keys of three kinds and drives them into any state."""

    def __init__(self, server: Initialized) -> None:
        self.client, self.auth, self.count = server.client, server.auth, 0

    def post(self, path: str, body: dict | None = None):
        return self.client.post(path, json=body or {}, headers=self.auth)

    def create(self, spec: str, **extra) -> str:
        self.count += 1
        name = f"{spec.lower()}-{self.count}"
        response = self.post("/v1/keys", {"name": name, "spec": spec, **extra})
        assert response.status_code == 201, response.text
        return name

    def drive(self, name: str, state: KeyState) -> None:
        steps: dict[KeyState, list[tuple[str, dict]]] = {
            S.ACTIVE: [],
            S.SUSPENDED: [("suspend", {})],
            S.DEACTIVATED: [("deactivate", {})],
            S.COMPROMISED: [("revoke", {"reason": "KEY_COMPROMISE"})],
            S.DESTROY_PENDING: [("deactivate", {}), ("schedule-destruction", {"pending_days": 1})],
            S.DESTROYED: [("deactivate", {}), ("schedule-destruction", {"pending_days": 1})],
            S.DESTROYED_COMPROMISED: [
                ("revoke", {"reason": "KEY_COMPROMISE"}),
                ("schedule-destruction", {"pending_days": 1}),
            ],
        }
        for verb, body in steps[state]:
            response = self.post(f"/v1/keys/{name}/{verb}", body)
            assert response.status_code == 200, response.text
        if state in DESTROYED_STATES:
            services = self.client.app.state.services  # type: ignore[attr-defined]
            self.client.portal.call(services.lifecycle.destroy, name)  # type: ignore[union-attr]
        assert self.client.get(f"/v1/keys/{name}", headers=self.auth).json()["state"] == state

    def in_state(self, spec: str, state: KeyState) -> str:
        if state is S.PRE_ACTIVE:
            later = (datetime.now(UTC) + timedelta(days=1)).isoformat()
            return self.create(spec, activation_date=later)
        name = self.create(spec)
        self.drive(name, state)
        return name


@pytest.fixture
def keys(unsealed: Initialized) -> Keys:
    return Keys(unsealed)


Operation = Callable[[Keys, str, dict], object]


def prepare(keys: Keys, spec: str) -> tuple[str, dict]:
    """A key of ``spec`` with what its process operations need, made while ACTIVE."""
    name = keys.create(spec)
    made: dict = {}
    if spec == "AES_256_GCM":
        made = keys.post(f"/v1/keys/{name}/encrypt", {"plaintext": MESSAGE}).json()
    elif spec == "ED25519":
        made = keys.post(f"/v1/keys/{name}/sign", {"message": MESSAGE}).json()
    else:
        made = keys.post(f"/v1/keys/{name}/mac", {"message": MESSAGE}).json()
    return name, made


def _call(path: str, *fields: str, **fixed: str) -> Callable[[str, dict], tuple[str, dict]]:
    """A request on key ``name``: the path, fixed body fields, and fields made while ACTIVE."""

    def build(name: str, made: dict) -> tuple[str, dict]:
        return path.format(name=name), {**fixed, **{f: made[f] for f in fields}}

    return build


CALLS: dict[KeyOperation, tuple[str, Callable[[str, dict], tuple[str, dict]]]] = {
    KeyOperation.ENCRYPT: ("AES_256_GCM", _call("/v1/keys/{name}/encrypt", plaintext=MESSAGE)),
    KeyOperation.DECRYPT: ("AES_256_GCM", _call("/v1/keys/{name}/decrypt", "ciphertext")),
    KeyOperation.SIGN: ("ED25519", _call("/v1/keys/{name}/sign", message=MESSAGE)),
    KeyOperation.VERIFY: ("ED25519", _call("/v1/keys/{name}/verify", "signature", message=MESSAGE)),
    KeyOperation.MAC: ("HMAC_SHA256", _call("/v1/keys/{name}/mac", message=MESSAGE)),
    KeyOperation.MAC_VERIFY: (
        "HMAC_SHA256",
        _call("/v1/keys/{name}/mac/verify", "mac", message=MESSAGE),
    ),
}


MATRIX = [(state, op) for state in KeyState for op in CALLS]


@pytest.mark.parametrize(("state", "operation"), MATRIX, ids=[f"{s}-{o}" for s, o in MATRIX])
def test_every_state_allows_exactly_its_operations(
    keys: Keys, state: KeyState, operation: KeyOperation
) -> None:
    spec, call = CALLS[operation]
    if state is S.PRE_ACTIVE:
        name, made = keys.in_state(spec, state), {}
        if operation in {KeyOperation.DECRYPT, KeyOperation.VERIFY, KeyOperation.MAC_VERIFY}:
            # Nothing was ever made with a PRE_ACTIVE key: use another key's output on this key.
            _, made = prepare(keys, spec)
    else:
        name, made = prepare(keys, spec)
        keys.drive(name, state)
    path, body = call(name, made)
    response = keys.post(path, body)
    if operation in PERMITTED_OPERATIONS[state]:
        assert response.status_code == 200, response.text
        if "valid" in response.json():
            assert response.json()["valid"] is True
    else:
        expected = "KeyDestroyed" if state in DESTROYED_STATES else "KeyStateForbidsOperation"
        assert (response.status_code, response.json()["code"]) == (409, expected), response.text
        assert state.value in response.json()["detail"]


VERBS: dict[str, tuple[KeyState | None, dict]] = {
    "activate": (S.ACTIVE, {}),
    "suspend": (S.SUSPENDED, {}),
    "resume": (S.ACTIVE, {}),
    "deactivate": (S.DEACTIVATED, {}),
    "revoke": (S.COMPROMISED, {"reason": "KEY_COMPROMISE"}),
    "schedule-destruction": (S.DESTROY_PENDING, {"pending_days": 3}),
    "cancel-destruction": (None, {}),
}
ONLY_FROM = {
    "activate": S.PRE_ACTIVE,
    "resume": S.SUSPENDED,
    "cancel-destruction": S.DESTROY_PENDING,
}
TRANSITIONS = [(state, verb) for state in KeyState for verb in VERBS]


def expected_target(state: KeyState, verb: str) -> KeyState | None:
    """What the table of section 3 says ``verb`` does from ``state`` (None: refused)."""
    target, _ = VERBS[verb]
    if verb in ONLY_FROM and state is not ONLY_FROM[verb]:
        return None
    if verb == "cancel-destruction":
        return S.DEACTIVATED  # the fixture reaches DESTROY_PENDING from DEACTIVATED
    return target if target in ALLOWED_TRANSITIONS[state] else None


@pytest.mark.parametrize(("state", "verb"), TRANSITIONS, ids=[f"{s}-{v}" for s, v in TRANSITIONS])
def test_every_transition_follows_the_table(keys: Keys, state: KeyState, verb: str) -> None:
    name = keys.in_state("AES_256_GCM", state)
    response = keys.post(f"/v1/keys/{name}/{verb}", VERBS[verb][1])
    target = expected_target(state, verb)
    if target is None:
        assert (response.status_code, response.json()["code"]) == (409, "InvalidStateTransition")
        assert state.value in response.json()["detail"]
        assert keys.client.get(f"/v1/keys/{name}", headers=keys.auth).json()["state"] == state
    else:
        assert response.status_code == 200, response.text
        assert response.json()["state"] == target


def test_revoke_for_other_reasons_deactivates_and_records_the_reason(keys: Keys) -> None:
    name = keys.create("AES_256_GCM")
    revoked = keys.post(f"/v1/keys/{name}/revoke", {"reason": "SUPERSEDED"}).json()
    assert (revoked["state"], revoked["revocation_reason"]) == ("DEACTIVATED", "SUPERSEDED")
    assert revoked["compromise_date"] is None
    other = keys.create("AES_256_GCM")
    when = "2026-01-02T03:04:05Z"
    compromised = keys.post(
        f"/v1/keys/{other}/revoke", {"reason": "KEY_COMPROMISE", "compromise_date": when}
    ).json()
    assert compromised["state"] == "COMPROMISED"
    assert compromised["compromise_date"] == when
    future = keys.create("AES_256_GCM")
    refused = keys.post(
        f"/v1/keys/{future}/revoke",
        {"reason": "KEY_COMPROMISE", "compromise_date": "2999-01-01T00:00:00Z"},
    )
    assert (refused.status_code, refused.json()["code"]) == (400, "ValidationFailed")


def test_schedule_and_cancel_destruction(keys: Keys) -> None:
    name = keys.in_state("AES_256_GCM", S.SUSPENDED)
    scheduled = keys.post(f"/v1/keys/{name}/schedule-destruction", {"pending_days": 7}).json()
    assert scheduled["state"] == "DESTROY_PENDING"
    due = datetime.fromisoformat(scheduled["destruction_date"])
    assert timedelta(days=6, hours=23) < due - datetime.now(UTC) <= timedelta(days=7)
    cancelled = keys.post(f"/v1/keys/{name}/cancel-destruction").json()
    assert (cancelled["state"], cancelled["destruction_date"]) == ("SUSPENDED", None)
    for days in (0, 366, -1):
        refused = keys.post(f"/v1/keys/{name}/schedule-destruction", {"pending_days": days})
        assert refused.status_code == 400, days


def test_destroyed_material_is_gone_for_good(keys: Keys, settings) -> None:
    name, made = prepare(keys, "AES_256_GCM")
    keys.drive(name, S.DESTROYED)
    response = keys.post("/v1/decrypt", {"ciphertext": made["ciphertext"]})
    assert (response.status_code, response.json()["code"]) == (409, "KeyDestroyed")
    versions = keys.client.get(f"/v1/keys/{name}/versions", headers=keys.auth).json()["versions"]
    assert [(v["state"], v["destroyed_at"] is not None) for v in versions] == [("DESTROYED", True)]
    import sqlite3

    with sqlite3.connect(settings.data_dir / "keystead.db") as connection:
        rows = connection.execute(
            "SELECT material_wrapped FROM key_versions v JOIN keys k ON k.id = v.key_id "
            "WHERE k.name = ?", (name,),
        ).fetchall()  # fmt: skip
    assert rows == [(None,)]


def test_a_future_activation_date_starts_pre_active(keys: Keys) -> None:
    name = keys.in_state("ED25519", S.PRE_ACTIVE)
    described = keys.client.get(f"/v1/keys/{name}", headers=keys.auth).json()
    assert described["state"] == "PRE_ACTIVE"
    assert keys.post(f"/v1/keys/{name}/activate").json()["state"] == "ACTIVE"
    signed = keys.post(f"/v1/keys/{name}/sign", {"message": MESSAGE})
    assert signed.status_code == 200
    assert base64.b64decode(signed.json()["signature"])
