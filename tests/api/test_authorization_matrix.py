"""Issue 4, must-show 1: every built-in role against every endpoint of the route table.

EXPECTED is written out by hand from the roles' documented duties (ARCHITECTURE.md
section 7), not computed from the code under test. Every authenticated endpoint's action
must appear in it, so a new endpoint without a rule fails this file. "Allowed" means the
request got past authorization (any answer but 401/403); "refused" means 403
PermissionDenied. The key-user holds a grant of every operation on the keys used here.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from conftest import b64
from endpoint_calls import endpoint_path, request_bodies
from identity_support import Server, running
from keystead.api.app import endpoint_table
from keystead.api.metrics import Metrics
from keystead.config import Settings

ADMIN, KEY_ADMIN, KEY_USER, AUDITOR, NOBODY = "admin", "key-admin", "key-user", "auditor", "none"
ROLES = (ADMIN, KEY_ADMIN, KEY_USER, AUDITOR, NOBODY)
EVERYONE = frozenset(ROLES)

_USE = frozenset({KEY_USER})
_LIFECYCLE = frozenset({KEY_ADMIN})
_READ = frozenset({KEY_ADMIN, KEY_USER})
_ADMIN = frozenset({ADMIN})
EXPECTED: dict[str, frozenset[str]] = {
    # Use of a key: the key-user it is granted to, nobody else (not even the key-admin).
    "keys.encrypt": _USE, "keys.decrypt": _USE, "keys.decrypt_with_key": _USE,
    "keys.reencrypt": _USE, "keys.data_key": _USE, "keys.sign": _USE, "keys.verify": _USE,
    "keys.mac": _USE, "keys.mac_verify": _USE, "keys.encapsulate": _USE,
    "keys.decapsulate": _USE, "keys.agree": _USE, "keys.encrypt_batch": _USE,
    "keys.decrypt_batch": _USE, "keys.sign_batch": _USE, "keys.verify_batch": _USE,
    "sys.random": _USE,
    # Wrapped export: no built-in role; only a policy that names keys.export.
    "keys.export": frozenset(),
    # Backup and restore extract and replace material: no built-in role, as for export.
    "backups.create": frozenset(), "backups.restore": frozenset(),
    "keys.backup": frozenset(), "keys.restore": frozenset(),
    # Reading a key: its administrators and the users it is granted to.
    "keys.describe": _READ, "keys.versions": _READ, "keys.public_key": _READ,
    # The lifecycle and grants: the key-admin alone.
    "keys.create": _LIFECYCLE, "keys.list": _LIFECYCLE, "keys.update": _LIFECYCLE,
    "keys.rotate": _LIFECYCLE, "keys.activate": _LIFECYCLE, "keys.suspend": _LIFECYCLE,
    "keys.resume": _LIFECYCLE, "keys.deactivate": _LIFECYCLE, "keys.revoke": _LIFECYCLE,
    "keys.schedule_destruction": _LIFECYCLE, "keys.cancel_destruction": _LIFECYCLE,
    "keys.version_deactivate": _LIFECYCLE, "keys.version_revoke": _LIFECYCLE,
    "keys.version_schedule_destruction": _LIFECYCLE,
    "keys.version_cancel_destruction": _LIFECYCLE, "grants.create": _LIFECYCLE,
    "grants.list": _LIFECYCLE, "grants.revoke": _LIFECYCLE,
    "keys.import": _LIFECYCLE, "keys.import_params": _LIFECYCLE,
    # Identities, roles, policies, the seal and the keyring: the admin alone.
    "users.create": _ADMIN, "users.list": _ADMIN, "users.describe": _ADMIN,
    "users.update": _ADMIN, "users.delete": _ADMIN, "users.disable": _ADMIN,
    "users.enable": _ADMIN, "users.set_password": _ADMIN, "users.reset_totp": _ADMIN,
    "policies.create": _ADMIN, "policies.list": _ADMIN, "policies.describe": _ADMIN,
    "policies.update": _ADMIN, "policies.delete": _ADMIN, "roles.create": _ADMIN,
    "roles.list": _ADMIN, "roles.describe": _ADMIN, "roles.update": _ADMIN,
    "roles.delete": _ADMIN, "sys.seal": _ADMIN, "sys.rotate_keyring": _ADMIN,
    "sys.metrics": _ADMIN, "sys.revoke_root": _ADMIN,
    # The audit log: the auditor alone.
    "audit.read": frozenset({AUDITOR}), "audit.verify": frozenset({AUDITOR}),
    "audit.export": frozenset({AUDITOR}), "audit.public_key": EVERYONE,
    # One's own session, tokens and identity, and others' published public keys: everyone.
    "auth.logout": EVERYONE, "auth.renew": EVERYONE, "auth.whoami": EVERYONE,
    "auth.password": EVERYONE, "auth.totp_enroll": EVERYONE, "auth.totp_confirm": EVERYONE,
    "auth.totp_disable": EVERYONE, "tokens.create": EVERYONE, "tokens.list": EVERYONE,
    "tokens.revoke": EVERYONE, "users.public_key": EVERYONE, "sys.openapi": EVERYONE,
}  # fmt: skip

# Requests whose effect would stop the rest of the run go last, in this order.
LAST = ("sys.seal", "auth.logout")
TABLE = [e for e in endpoint_table(Metrics()) if e.auth]
ORDERED = sorted(TABLE, key=lambda e: LAST.index(e.action) if e.action in LAST else -1)


def test_every_authenticated_endpoint_has_a_rule_here() -> None:
    actions = {e.action for e in TABLE}
    assert actions - set(EXPECTED) == set(), "a new endpoint needs a row in EXPECTED"
    assert set(EXPECTED) - actions == set(), "EXPECTED names an endpoint that is gone"


@pytest.fixture
def world(settings: Settings) -> Iterator[tuple[Server, dict[str, str]]]:
    with running(settings) as server:
        matrix = {"name": "matrix", "spec": "AES_256_GCM", "exportable": True}
        assert server.as_root("POST", "/v1/keys", matrix)
        every = ["encrypt", "decrypt", "reencrypt", "data_key", "data_key_wrapped", "sign",
                 "verify", "mac", "mac_verify", "encapsulate", "decapsulate", "agree"]  # fmt: skip
        server.add_user("target", [])
        server.as_root(
            "POST",
            "/v1/policies",
            {"name": "target", "statements": [{"effect": "allow", "actions": ["*"]}]},
        )
        server.as_root("POST", "/v1/roles", {"name": "target", "policies": ["target"]})
        ciphertext = server.as_root(
            "POST", "/v1/keys/matrix/encrypt", {"plaintext": b64(b"secret")}
        ).json()["ciphertext"]
        yield server, {"ciphertext": ciphertext, "operations": ",".join(every)}


@pytest.mark.parametrize("role", ROLES)
def test_each_role_is_allowed_exactly_what_it_says(world, role: str) -> None:
    server, fixtures = world
    roles = [] if role == NOBODY else [role]
    caller = server.user_with(f"matrix-{role}", roles)
    grant = {"principal": f"matrix-{role}", "operations": fixtures["operations"].split(",")}
    assert server.as_root("POST", "/v1/keys/matrix/grants", grant).status_code == 201
    bodies = request_bodies(fixtures)
    wrong = []
    for endpoint in ORDERED:
        response = server.client.request(
            endpoint.method, endpoint_path(endpoint.path), json=bodies.get(endpoint.action, {}),
            headers=caller,
        )  # fmt: skip
        media_type = response.headers.get("content-type", "").split(";")[0]
        is_json = media_type in {"application/json", "application/problem+json"}
        code = response.json().get("code") if is_json else None
        refused = response.status_code == 403 and code == "PermissionDenied"
        if endpoint.action == "keys.decrypt_batch" and response.status_code == 200:
            # Each item names its own key, so each item is refused on its own.
            errors = [r.get("error") or {} for r in response.json()["results"]]
            refused = all(e.get("code") == "PermissionDenied" for e in errors)
        assert code != "Unauthenticated", (endpoint.action, response.text)
        if refused == (role in EXPECTED[endpoint.action]):
            wrong.append((endpoint.action, response.status_code, code))
    assert wrong == [], f"{role}: (action, status, code) that disagree with EXPECTED"


def test_root_may_do_everything_but_use_a_users_own_key(world) -> None:
    server, fixtures = world
    bodies = request_bodies(fixtures)
    for endpoint in ORDERED:
        if endpoint.action in LAST:
            continue
        response = server.client.request(
            endpoint.method, endpoint_path(endpoint.path), json=bodies.get(endpoint.action, {}),
            headers=server.root,
        )  # fmt: skip
        assert response.status_code not in {401, 403}, (endpoint.action, response.text)
    response = server.as_root("POST", "/v1/keys/user:target/sign", {"message": b64(b"m")})
    assert (response.status_code, response.json()["code"]) == (403, "PermissionDenied")
