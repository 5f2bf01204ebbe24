"""The pkcs11 seal over the HTTP API, against SoftHSM2 (issue 7): init, recovery shares,
unsealing itself, seal, generate-root, and every way the token can fail."""

from __future__ import annotations

import base64
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import pytest
from pkcs11 import Attribute, KeyType, ObjectClass
from pkcs11 import exceptions as p11
from starlette.testclient import TestClient

from conftest import b64
from hsm_support import SoftHSM, failing, pkcs11_settings, seal_status, unsealed, wait_for_seal
from keystead.api.app import create_app
from keystead.config import Settings, load_settings
from keystead.services.container import Services

pytestmark = pytest.mark.hsm

SECRET = b"settlement batch 2026-12-04"


def hsm_settings(tmp_path: Path, hsm: SoftHSM, **extra: object) -> Settings:
    options = {**pkcs11_settings(hsm), **extra}
    return load_settings(data_dir=tmp_path / "data", insecure_http=True, **options)


@contextmanager
def serving(settings: Settings) -> Iterator[TestClient]:
    with TestClient(create_app(settings), base_url="https://testserver") as client:
        yield client


def services_of(client: TestClient) -> Services:
    return client.app.state.services  # type: ignore[attr-defined,no-any-return]


@dataclass
class Initialised:
    client: TestClient
    recovery_shares: list[str]
    root_token: str

    @property
    def auth(self) -> dict[str, str]:
        return {"authorization": f"Bearer {self.root_token}"}

    def encrypt(self, name: str = "ledger") -> str:
        created = self.client.post(
            "/v1/keys", json={"name": name, "spec": "AES_256_GCM"}, headers=self.auth
        )
        assert created.status_code == 201, created.text
        body = {"plaintext": b64(SECRET), "context": {"app": "hsm"}}
        encrypted = self.client.post(f"/v1/keys/{name}/encrypt", json=body, headers=self.auth)
        assert encrypted.status_code == 200, encrypted.text
        return str(encrypted.json()["ciphertext"])

    def decrypt(self, ciphertext: str) -> bytes:
        body = {"ciphertext": ciphertext, "context": {"app": "hsm"}}
        response = self.client.post("/v1/decrypt", json=body, headers=self.auth)
        assert response.status_code == 200, response.text
        return base64.b64decode(response.json()["plaintext"])

    def give(self, path: str, *indexes: int) -> dict:
        body: dict = {}
        for index in indexes:
            response = self.client.post(path, json={"share": self.recovery_shares[index]})
            assert response.status_code == 200, response.text
            body = response.json()
        return body


def init_hsm(client: TestClient, shares: int = 5, threshold: int = 3) -> Initialised:
    response = client.post(
        "/v1/sys/init", json={"recovery_shares": shares, "recovery_threshold": threshold}
    )
    assert response.status_code == 200, response.text
    body = response.json()
    return Initialised(client, body["recovery_shares"], body["root_token"])


@pytest.fixture
def settings_hsm(tmp_path: Path, softhsm: SoftHSM) -> Settings:
    return hsm_settings(tmp_path, softhsm)


@pytest.fixture
def initialised(settings_hsm: Settings) -> Iterator[Initialised]:
    with serving(settings_hsm) as client:
        yield init_hsm(client)


def test_init_answers_recovery_shares_and_the_server_is_unsealed(settings_hsm: Settings) -> None:
    with serving(settings_hsm) as client:
        before = seal_status(client)
        assert (before["initialized"], before["type"], before["recovery_seal"]) == (
            False, "pkcs11", True,
        )  # fmt: skip
        response = client.post("/v1/sys/init", json={"recovery_shares": 5, "recovery_threshold": 3})
        assert response.status_code == 200, response.text
        body = response.json()
        assert body["shares"] == []  # no unseal shares exist: the token unseals
        assert body["recovery_threshold"] == 3
        shares = [base64.b64decode(share) for share in body["recovery_shares"]]
        assert len(shares) == 5
        assert len(set(shares)) == 5
        assert all(len(share) == 33 for share in shares)
        assert body["root_token"].startswith("kst_root_")
        # Unsealed when init answers: no polling here.
        status = seal_status(client)
        assert status == {
            "initialized": True, "sealed": False, "type": "pkcs11", "shares": 5, "threshold": 3,
            "progress": 0, "version": status["version"], "recovery_seal": True,
        }  # fmt: skip
        assert client.get("/v1/sys/health").status_code == 200
        server = Initialised(client, body["recovery_shares"], body["root_token"])
        assert server.decrypt(server.encrypt()) == SECRET
        again = client.post("/v1/sys/init", json={"recovery_shares": 5, "recovery_threshold": 3})
        assert (again.status_code, again.json()["code"]) == (409, "AlreadyInitialized")


@pytest.mark.parametrize(
    ("body", "named"),
    [
        ({"shares": 5, "threshold": 3}, "recovery_shares"),
        ({"recovery_shares": 5}, "recovery_threshold"),
        ({"recovery_shares": 3, "recovery_threshold": 4}, "threshold"),
        ({"recovery_shares": 0, "recovery_threshold": 0}, "recovery_shares"),
        ({}, "recovery_shares"),
    ],
)
def test_init_of_a_pkcs11_server_needs_recovery_counts(
    settings_hsm: Settings, body: dict, named: str
) -> None:
    with serving(settings_hsm) as client:
        response = client.post("/v1/sys/init", json=body)
        assert (response.status_code, response.json()["code"]) == (400, "ValidationFailed")
        assert named in response.json()["detail"]
        assert seal_status(client)["initialized"] is False


def test_init_of_a_shamir_server_refuses_recovery_counts(client: TestClient) -> None:
    response = client.post("/v1/sys/init", json={"recovery_shares": 5, "recovery_threshold": 3})
    assert (response.status_code, response.json()["code"]) == (400, "ValidationFailed")
    assert "recovery_shares" in response.json()["detail"]
    assert seal_status(client)["initialized"] is False


def test_the_root_key_is_made_in_the_token_and_cannot_be_read(initialised: Initialised) -> None:
    services = services_of(initialised.client)
    assert services.seal is not None
    assert services.seal.hsm is not None

    def inspect(session):
        keys = list(session.get_objects({Attribute.CLASS: ObjectClass.SECRET_KEY}))
        assert len(keys) == 1
        key = keys[0]
        attributes = {
            name: key[name]
            for name in (Attribute.LABEL, Attribute.TOKEN, Attribute.SENSITIVE,
                         Attribute.EXTRACTABLE, Attribute.NEVER_EXTRACTABLE,
                         Attribute.ALWAYS_SENSITIVE, Attribute.KEY_TYPE, Attribute.VALUE_LEN)
        }  # fmt: skip
        with pytest.raises(p11.AttributeSensitive):
            _ = key[Attribute.VALUE]
        return attributes

    attributes = services.seal.hsm.token.run(inspect, "inspecting the root key")
    assert attributes == {
        Attribute.LABEL: "keystead-root", Attribute.TOKEN: True, Attribute.SENSITIVE: True,
        Attribute.EXTRACTABLE: False, Attribute.NEVER_EXTRACTABLE: True,
        Attribute.ALWAYS_SENSITIVE: True, Attribute.KEY_TYPE: KeyType.AES,
        Attribute.VALUE_LEN: 32,
    }  # fmt: skip


def test_a_restarted_server_unseals_itself(settings_hsm: Settings) -> None:
    with serving(settings_hsm) as client:
        first = init_hsm(client)
        ciphertext = first.encrypt()
        rotated = client.post("/v1/sys/rotate-keyring", headers=first.auth)
        assert rotated.json() == {"term": 2}
    with serving(settings_hsm) as client:
        wait_for_seal(client, unsealed)
        again = Initialised(client, first.recovery_shares, first.root_token)
        assert again.decrypt(ciphertext) == SECRET
        assert client.post("/v1/sys/rotate-keyring", headers=first.auth).json() == {"term": 3}


def test_an_operators_seal_holds_until_a_recovery_quorum(initialised: Initialised) -> None:
    client = initialised.client
    ciphertext = initialised.encrypt()
    sealed = client.post("/v1/sys/seal", headers=initialised.auth)
    assert sealed.json()["sealed"] is True
    # Several retry intervals later the token has not undone the operator's seal.
    services = services_of(client)
    assert services.auto_unseal is not None
    assert services.auto_unseal.running
    client.portal.call(services.system.unseal_from_token)  # type: ignore[union-attr]
    status = seal_status(client)
    assert status["sealed"] is True
    assert "seal_error" not in status
    locked = client.post("/v1/decrypt", json={"ciphertext": ciphertext}, headers=initialised.auth)
    assert (locked.status_code, locked.json()["code"]) == (503, "Sealed")
    assert initialised.give("/v1/sys/unseal", 4, 1)["progress"] == 2
    assert initialised.give("/v1/sys/unseal", 2)["sealed"] is False
    assert initialised.decrypt(ciphertext) == SECRET


def test_wrong_recovery_shares_never_unseal(initialised: Initialised) -> None:
    client = initialised.client
    client.post("/v1/sys/seal", headers=initialised.auth)
    initialised.give("/v1/sys/unseal", 0, 1)
    raw = bytearray(base64.b64decode(initialised.recovery_shares[2]))
    raw[5] ^= 0x10
    bad = client.post("/v1/sys/unseal", json={"share": b64(bytes(raw))})
    assert (bad.status_code, bad.json()["code"]) == (400, "InvalidUnsealKey")
    assert seal_status(client)["sealed"] is True
    assert seal_status(client)["progress"] == 0
    assert initialised.give("/v1/sys/unseal", 2, 3, 4)["sealed"] is False


def test_generate_root_takes_recovery_shares(initialised: Initialised) -> None:
    assert initialised.give("/v1/sys/generate-root", 3, 0)["progress"] == 2
    done = initialised.give("/v1/sys/generate-root", 1)
    assert done["root_token"].startswith("kst_root_")
    fresh = {"authorization": f"Bearer {done['root_token']}"}
    assert initialised.client.get("/v1/keys", headers=fresh).status_code == 200
    initialised.give("/v1/sys/generate-root", 0, 1)
    foreign = bytearray(base64.b64decode(initialised.recovery_shares[2]))
    foreign[0] ^= 0x01
    bad = initialised.client.post("/v1/sys/generate-root", json={"share": b64(bytes(foreign))})
    assert (bad.status_code, bad.json()["code"]) == (400, "InvalidUnsealKey")


def test_a_wrong_pin_leaves_it_sealed_and_is_not_retried(
    tmp_path: Path, softhsm: SoftHSM, settings_hsm: Settings
) -> None:
    with serving(settings_hsm) as client:
        init_hsm(client)
    wrong = hsm_settings(tmp_path, softhsm, pkcs11_pin="not-the-pin")
    with serving(wrong) as client:
        status = wait_for_seal(client, failing)
        assert "pkcs11_pin" in status["seal_error"]
        assert "not retried" in status["seal_error"]
        assert "not-the-pin" not in str(status)
        services = services_of(client)
        assert services.auto_unseal is not None
        wait_for_seal(client, lambda _: not services.auto_unseal.running)  # type: ignore[union-attr]
        assert client.get("/v1/sys/health").status_code == 503
        refused = client.post("/v1/keys", json={"name": "x", "spec": "AES_256_GCM"})
        assert refused.status_code in {401, 503}


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"pkcs11_token_label": "no-such-token"}, "pkcs11_token_label"),
        ({"pkcs11_module": Path("/nonexistent/libpkcs11.so")}, "pkcs11_module"),
    ],
    ids=["wrong token label", "module missing"],
)
def test_an_unreachable_token_leaves_it_sealed_saying_why(
    tmp_path: Path, softhsm: SoftHSM, settings_hsm: Settings, change: dict, named: str
) -> None:
    with serving(settings_hsm) as client:
        init_hsm(client)
    broken = hsm_settings(tmp_path, softhsm, **change)
    with serving(broken) as client:
        status = wait_for_seal(client, failing)
        assert named in status["seal_error"]
        assert status["initialized"] is True
        services = services_of(client)
        assert services.auto_unseal is not None
        assert services.auto_unseal.running  # keeps retrying: the token may come back
        health = client.get("/v1/sys/health")
        assert health.status_code == 503


def test_a_token_that_comes_back_unseals_the_server_by_itself(
    softhsm: SoftHSM, settings_hsm: Settings
) -> None:
    with serving(settings_hsm) as client:
        first = init_hsm(client)
        ciphertext = first.encrypt()
    softhsm.unplug()
    with serving(settings_hsm) as client:
        status = wait_for_seal(client, failing)
        assert "pkcs11_token_label" in status["seal_error"]
        softhsm.plug_in()
        wait_for_seal(client, unsealed)
        assert Initialised(client, [], first.root_token).decrypt(ciphertext) == SECRET
        assert "seal_error" not in seal_status(client)


def test_init_with_an_unreachable_token_stores_nothing(tmp_path: Path, softhsm: SoftHSM) -> None:
    broken = hsm_settings(tmp_path, softhsm, pkcs11_token_label="absent")
    with serving(broken) as client:
        status = wait_for_seal(client, failing)  # said before init, too
        assert status["initialized"] is False
        response = client.post("/v1/sys/init", json={"recovery_shares": 3, "recovery_threshold": 2})
        assert (response.status_code, response.json()["code"]) == (503, "HSMUnavailable")
        assert "pkcs11_token_label" in response.json()["detail"]
        assert seal_status(client)["initialized"] is False


def test_a_token_removed_while_unsealed_fails_what_needs_it_with_503(
    softhsm: SoftHSM, initialised: Initialised
) -> None:
    client = initialised.client
    ciphertext = initialised.encrypt()
    softhsm.remove_tokens()
    rotate = client.post("/v1/sys/rotate-keyring", headers=initialised.auth)
    assert (rotate.status_code, rotate.json()["code"]) == (503, "HSMUnavailable")
    assert rotate.json()["detail"]
    # The keyring is in memory: what is stored stays readable until the server seals.
    assert initialised.decrypt(ciphertext) == SECRET
    assert seal_status(client)["sealed"] is False
