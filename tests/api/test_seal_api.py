"""Init, unseal, seal and health over the HTTP API (issue 2, must-show 3 and 5)."""

from __future__ import annotations

import base64

import pytest
from starlette.testclient import TestClient

from conftest import Initialized


def flip_bit(share: str, bit: int) -> str:
    raw = bytearray(base64.b64decode(share))
    raw[bit // 8] ^= 1 << (bit % 8)
    return base64.b64encode(bytes(raw)).decode()


def assert_problem(response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body = response.json()
    assert set(body) == {"type", "title", "status", "detail", "code", "request_id"}
    assert body["status"] == status
    assert body["code"] == code
    assert body["request_id"] == response.headers["x-request-id"]
    return body


def test_health_follows_vault_statuses(client: TestClient) -> None:
    assert client.get("/v1/sys/health").status_code == 501
    init = client.post("/v1/sys/init", json={"shares": 1, "threshold": 1}).json()
    assert client.get("/v1/sys/health").status_code == 503
    client.post("/v1/sys/unseal", json={"share": init["shares"][0]})
    health = client.get("/v1/sys/health")
    assert health.status_code == 200
    assert health.json()["sealed"] is False


def test_init_returns_shares_once_and_refuses_a_second_init(initialized: Initialized) -> None:
    assert len(initialized.shares) == 5
    assert len(set(initialized.shares)) == 5
    assert all(len(base64.b64decode(share)) == 33 for share in initialized.shares)
    assert initialized.root_token.startswith("kst_root_")
    again = initialized.client.post("/v1/sys/init", json={"shares": 5, "threshold": 3})
    assert_problem(again, 409, "AlreadyInitialized")
    status = initialized.client.get("/v1/sys/seal-status").json()
    assert status == {
        "initialized": True, "sealed": True, "type": "shamir", "shares": 5, "threshold": 3,
        "progress": 0, "version": status["version"],
    }  # fmt: skip


@pytest.mark.parametrize(
    ("shares", "threshold"), [(3, 4), (0, 0), (256, 2), (5, 0), (1, 2), ("5", 3), (5, None)]
)
def test_init_refuses_impossible_quorums(client: TestClient, shares, threshold) -> None:
    response = client.post("/v1/sys/init", json={"shares": shares, "threshold": threshold})
    assert_problem(response, 400, "ValidationFailed")
    assert client.get("/v1/sys/seal-status").json()["initialized"] is False


def test_threshold_minus_one_shares_leave_it_sealed(initialized: Initialized) -> None:
    body = initialized.unseal(0, 1)
    assert body["sealed"] is True
    assert body["progress"] == 2
    assert initialized.client.get("/v1/sys/health").status_code == 503
    keys = initialized.client.get("/v1/keys", headers=initialized.auth)
    assert_problem(keys, 503, "Sealed")


def test_reset_forgets_the_progress(initialized: Initialized) -> None:
    initialized.unseal(0, 1)
    reset = initialized.client.post("/v1/sys/unseal", json={"reset": True})
    assert reset.json()["progress"] == 0
    body = initialized.unseal(2)
    assert body["progress"] == 1
    assert body["sealed"] is True


@pytest.mark.parametrize("bit", [0, 7, 100, 255, 256, 263])
def test_a_share_with_one_flipped_bit_never_unseals(initialized: Initialized, bit: int) -> None:
    initialized.unseal(0, 1)
    bad = initialized.client.post(
        "/v1/sys/unseal", json={"share": flip_bit(initialized.shares[2], bit)}
    )
    problem = assert_problem(bad, 400, "InvalidUnsealKey")
    assert "reset" in problem["detail"]
    status = initialized.client.get("/v1/sys/seal-status").json()
    assert status["sealed"] is True
    assert status["progress"] == 0
    assert initialized.unseal(2, 3, 4)["sealed"] is False


def test_a_share_from_another_init_never_unseals(initialized: Initialized, tmp_path) -> None:
    from keystead.api.app import create_app
    from keystead.config import load_settings

    other_settings = load_settings(data_dir=tmp_path / "other", insecure_http=True)
    with TestClient(create_app(other_settings), base_url="https://other") as other:
        foreign = other.post("/v1/sys/init", json={"shares": 5, "threshold": 3}).json()["shares"]
    initialized.unseal(0, 1)
    bad = initialized.client.post("/v1/sys/unseal", json={"share": foreign[2]})
    assert_problem(bad, 400, "InvalidUnsealKey")
    assert initialized.client.get("/v1/sys/seal-status").json()["sealed"] is True


@pytest.mark.parametrize(
    ("payload", "code"),
    [
        ({"share": "AAAA"}, "InvalidUnsealShare"),
        ({"share": "not base64!"}, "ValidationFailed"),
        ({}, "ValidationFailed"),
        ({"share": None}, "ValidationFailed"),
        ({"share": "", "extra": 1}, "ValidationFailed"),
    ],
)
def test_malformed_shares_get_clear_errors(initialized: Initialized, payload, code) -> None:
    assert_problem(initialized.client.post("/v1/sys/unseal", json=payload), 400, code)


def test_the_same_share_twice_does_not_count(initialized: Initialized) -> None:
    initialized.unseal(0)
    again = initialized.client.post("/v1/sys/unseal", json={"share": initialized.shares[0]})
    assert_problem(again, 400, "InvalidUnsealShare")
    assert initialized.client.get("/v1/sys/seal-status").json()["progress"] == 1


def test_unseal_before_init_is_refused(client: TestClient) -> None:
    response = client.post("/v1/sys/unseal", json={"share": base64.b64encode(bytes(33)).decode()})
    assert_problem(response, 503, "NotInitialized")


def test_any_three_shares_unseal_and_seal_drops_everything(unsealed: Initialized) -> None:
    client, auth = unsealed.client, unsealed.auth
    created = client.post("/v1/keys", json={"name": "k", "spec": "AES_256_GCM"}, headers=auth)
    assert created.status_code == 201
    sealed = client.post("/v1/sys/seal", headers=auth)
    assert sealed.json()["sealed"] is True
    assert_problem(client.get("/v1/keys/k", headers=auth), 503, "Sealed")
    assert unsealed.unseal(4, 2, 3)["sealed"] is False
    assert client.get("/v1/keys/k", headers=auth).json()["name"] == "k"


def test_seal_needs_a_token(unsealed: Initialized) -> None:
    assert_problem(unsealed.client.post("/v1/sys/seal"), 401, "Unauthenticated")
    assert unsealed.client.get("/v1/sys/seal-status").json()["sealed"] is False


def test_rotate_keyring_keeps_old_values_readable(unsealed: Initialized) -> None:
    client, auth = unsealed.client, unsealed.auth
    client.post("/v1/keys", json={"name": "before", "spec": "AES_256_GCM"}, headers=auth)
    old = client.post(
        "/v1/keys/before/encrypt", json={"plaintext": "c2VjcmV0"}, headers=auth
    ).json()
    rotated = client.post("/v1/sys/rotate-keyring", headers=auth)
    assert rotated.status_code == 200
    assert rotated.json() == {"term": 2}
    client.post("/v1/sys/seal", headers=auth)
    unsealed.unseal(0, 1, 2)
    assert client.post("/v1/sys/rotate-keyring", headers=auth).json() == {"term": 3}
    decrypted = client.post("/v1/decrypt", json={"ciphertext": old["ciphertext"]}, headers=auth)
    assert decrypted.json()["plaintext"] == "c2VjcmV0"
    client.post("/v1/keys", json={"name": "after", "spec": "AES_128_GCM"}, headers=auth)
    new = client.post("/v1/keys/after/encrypt", json={"plaintext": "eA=="}, headers=auth).json()
    assert client.post("/v1/decrypt", json=new, headers=auth).status_code == 400  # extra fields
    back = client.post("/v1/decrypt", json={"ciphertext": new["ciphertext"]}, headers=auth)
    assert back.json()["plaintext"] == "eA=="


def test_rotate_keyring_needs_unsealed_and_a_token(initialized: Initialized) -> None:
    client = initialized.client
    assert_problem(client.post("/v1/sys/rotate-keyring", headers=initialized.auth), 503, "Sealed")
    initialized.unseal(0, 1, 2)
    assert_problem(client.post("/v1/sys/rotate-keyring"), 401, "Unauthenticated")
