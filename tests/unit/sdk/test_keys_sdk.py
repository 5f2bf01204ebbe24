"""``client.keys`` and ``client.random`` against canned answers (httpx.MockTransport).

Each method, sync and async: the request (method, path, query, JSON body) and the parsed
answer; the new error codes; reprs that hide plaintexts, data keys and shared secrets.
"""

from __future__ import annotations

import inspect
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone

import pytest

import keystead_sdk
from conftest import b64
from keystead_sdk import (
    AsyncClient,
    Client,
    Conflict,
    CryptoError,
    DataKey,
    Decrypted,
    Encapsulation,
    Encrypted,
    ExportedKey,
    ImportParams,
    InvalidCiphertext,
    InvalidPublicKey,
    Key,
    KeyPage,
    KeysteadAPIError,
    KeyVersions,
    Mac,
    PublicKey,
    ServerError,
    SharedSecret,
    Signature,
    SignatureInvalid,
    UnsupportedAlgorithm,
    ValidationFailed,
    ciphertext_key_id,
)
from sdk_harness import (
    Case,
    Harness,
    Server,
    anyio_backend,  # noqa: F401  (a fixture: pytest finds it by name)
    assert_methods_covered,
    clean_env,  # noqa: F401  (an autouse fixture)
    problem,
)

TOKEN = "kst_root_keys-sdk-token"
KEY_ID = "0f8fad5b-d9cb-469f-a165-70867728950e"
OTHER_ID = "7c9e6679-7425-40de-944b-e07fc1f90ae7"
PLAINTEXT = b"attack at dawn"
DATA_KEY = b"\xd4" * 32
SECRET = b"\x5e" * 32
# A Keystead ciphertext: "KS", format 1, the key id, version 3, AES-256-GCM, nonce, body.
CIPHERTEXT = b"KS\x01" + uuid.UUID(KEY_ID).bytes + b"\x00\x00\x00\x03\x01" + b"\x00" * 12 + b"ct"
SIGNATURE = b"0E\x02 sig"
TAG = b"\x7a" * 32
ENCAPSULATION = b"\xec" * 1088
DER = b"0*0\x05\x06\x03+ep\x03!\x00" + b"\x01" * 32
PEM = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n"
JWK = {"kty": "OKP", "crv": "Ed25519", "x": "AQEBAQ", "kid": KEY_ID}
WHEN = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)
NAIVE = WHEN.replace(tzinfo=None)

KEY: dict[str, object] = {
    "id": KEY_ID,
    "name": "orders",
    "spec": "AES_256_GCM",
    "usage": "ENCRYPT_DECRYPT",
    "state": "ACTIVE",
    "primary_version": 3,
    "min_decryption_version": 2,
    "description": "order data",
    "tags": {"team": "payments"},
    "owner": "root",
    "protection": "SOFTWARE",
    "origin": "KEYSTEAD",
    "exportable": False,
    "backup_allowed": True,
    "rotation_period_seconds": 7_776_000,
    "next_rotation_at": "2030-04-02T03:04:05Z",
    "activation_date": None,
    "deactivation_date": "2031-01-01T00:00:00+00:00",
    "destruction_date": None,
    "revocation_reason": None,
    "compromise_date": None,
    "created_at": "2025-01-02T03:04:05Z",
    "updated_at": "2025-01-03T03:04:05Z",
}
VERSIONS = {
    "key_id": KEY_ID,
    "versions": [
        {
            "version": 1,
            "state": "DEACTIVATED",
            "primary": False,
            "created_at": "2025-01-02T03:04:05Z",
            "use_count": 17,
            "last_used_at": "2025-01-02T05:00:00Z",
            "destruction_date": None,
            "destroyed_at": None,
            "valid_to": "2030-01-02T03:04:05Z",
        },
        {
            "version": 2,
            "state": "ACTIVE",
            "primary": True,
            "created_at": "2025-02-02T03:04:05Z",
            "use_count": 0,
            "last_used_at": None,
            "destruction_date": None,
            "destroyed_at": None,
        },
    ],
}
ENCRYPTED = {"ciphertext": b64(CIPHERTEXT), "key_id": KEY_ID, "version": 3}
DECRYPTED = {"plaintext": b64(PLAINTEXT), "key_id": KEY_ID, "version": 3}
SIGNED = {"signature": b64(SIGNATURE), "key_id": KEY_ID, "version": 3, "algorithm": "ECDSA_SHA_256"}
SIGNED_BATCH = {"key_id": KEY_ID, "algorithm": "ECDSA_SHA_256", "results": [
    {"signature": b64(SIGNATURE), "version": 3}, {"signature": b64(SIGNATURE), "version": 3},
]}  # fmt: skip
MACED = {"mac": b64(TAG), "key_id": KEY_ID, "version": 3, "algorithm": "HMAC_SHA256"}
SHARED = {"shared_secret": b64(SECRET), "key_id": KEY_ID, "version": 1}


HARNESS = Harness(token=TOKEN)
sync_client, async_client = HARNESS.sync_client, HARNESS.async_client


def _check_key(result: Key) -> None:
    assert isinstance(result, Key)
    assert result.id == KEY_ID
    assert result.tags == {"team": "payments"}
    assert result.rotation_period_seconds == 7_776_000
    assert result.min_decryption_version == 2
    assert result.next_rotation_at == datetime(2030, 4, 2, 3, 4, 5, tzinfo=UTC)
    assert result.activation_date is None
    assert result.owner == "root"
    assert (result.protection, result.origin) == ("SOFTWARE", "KEYSTEAD")


def _check_page(result: KeyPage) -> None:
    assert [key.name for key in result.keys] == ["orders"]
    assert result.next_cursor is None


def _check_versions(result: KeyVersions) -> None:
    assert result.key_id == KEY_ID
    assert [(v.version, v.state, v.primary) for v in result.versions] == [
        (1, "DEACTIVATED", False),
        (2, "ACTIVE", True),
    ]
    assert result.versions[0].use_count == 17
    assert result.versions[1].last_used_at is None
    # valid_to (imported material expiry) is read, and absent from an older server's answer.
    assert [v.valid_to for v in result.versions] == [WHEN, None]


def _check_encrypted(result: Encrypted) -> None:
    assert result == Encrypted(ciphertext=CIPHERTEXT, key_id=KEY_ID, version=3)


def _check_decrypted(result: Decrypted) -> None:
    assert (result.plaintext, result.key_id, result.version) == (PLAINTEXT, KEY_ID, 3)


def _check_data_key(result: DataKey) -> None:
    assert (result.plaintext, result.ciphertext, result.version) == (DATA_KEY, CIPHERTEXT, 3)


def _check_wrapped_data_key(result: DataKey) -> None:
    assert result.plaintext is None
    assert result.ciphertext == CIPHERTEXT


def _check_signature(result: Signature) -> None:
    assert result == Signature(
        signature=SIGNATURE, key_id=KEY_ID, version=3, algorithm="ECDSA_SHA_256"
    )


def _check_signatures(result: list[Signature]) -> None:
    assert len(result) == 2
    for signature in result:
        _check_signature(signature)


def _check_mac(result: Mac) -> None:
    assert result == Mac(mac=TAG, key_id=KEY_ID, version=3, algorithm="HMAC_SHA256")


def _is_true(result: bool) -> None:
    assert result is True


def _is_false(result: bool) -> None:
    assert result is False


def _check_pem(result: PublicKey) -> None:
    assert (result.format, result.pem, result.der, result.jwk) == ("pem", PEM, None, None)
    assert (result.key_id, result.version) == (KEY_ID, 1)


def _check_der(result: PublicKey) -> None:
    assert (result.format, result.pem, result.der, result.jwk) == ("der", None, DER, None)


def _check_jwk(result: PublicKey) -> None:
    assert (result.format, result.pem, result.der, result.jwk) == ("jwk", None, None, JWK)
    assert result.version == 2


def _check_encapsulation(result: Encapsulation) -> None:
    assert (result.shared_secret, result.encapsulation) == (SECRET, ENCAPSULATION)
    assert (result.key_id, result.version) == (KEY_ID, 1)


def _check_shared_secret(result: SharedSecret) -> None:
    assert (result.shared_secret, result.key_id, result.version) == (SECRET, KEY_ID, 1)


def _check_random(result: bytes) -> None:
    assert result == bytes(range(16))


CREATE_DEFAULTS = {"description": "", "tags": {}, "exportable": False, "backup_allowed": True}
CONTEXT = {"tenant": "a"}
K = "/v1/keys/orders"


def _check_exported(result: ExportedKey) -> None:
    assert (result.wrapped_key, result.jwe) == (TAG, None)


def _check_import_params(result: ImportParams) -> None:
    assert result.import_token.get_secret_value() == "kst_imp_t"
    assert (result.public_key, result.spec, result.expires_at) == (PEM, "HMAC_SHA256", WHEN)


CASES = [
    # metadata
    Case("keys.create", ("orders", "AES_256_GCM"), {}, "POST", "/v1/keys",
         {"name": "orders", "spec": "AES_256_GCM", **CREATE_DEFAULTS}, KEY, _check_key,
         status=201),
    Case("keys.create", ("signer", "RSA_3072"),
         {"usage": "SIGN_VERIFY", "description": "d", "tags": {"a": "1"},
          "rotation_period_seconds": 86400, "activation_date": WHEN,
          "deactivation_date": WHEN + timedelta(days=365), "exportable": True,
          "backup_allowed": False},
         "POST", "/v1/keys",
         {"name": "signer", "spec": "RSA_3072", "usage": "SIGN_VERIFY", "description": "d",
          "tags": {"a": "1"}, "rotation_period_seconds": 86400,
          "activation_date": "2030-01-02T03:04:05+00:00",
          "deactivation_date": "2031-01-02T03:04:05+00:00", "exportable": True,
          "backup_allowed": False}, KEY, _check_key, status=201),
    Case("keys.create", ("in-token", "EC_P256"), {"protection": "HSM", "backup_allowed": False},
         "POST", "/v1/keys",
         {"name": "in-token", "spec": "EC_P256", **CREATE_DEFAULTS, "backup_allowed": False,
          "protection": "HSM"}, KEY, _check_key, status=201),
    Case("keys.get", ("orders",), {}, "GET", K, None, KEY, _check_key),
    Case("keys.get", ("a/b",), {}, "GET", "/v1/keys/a%2Fb", None, KEY, _check_key),
    Case("keys.list", (), {}, "GET", "/v1/keys", None, {"keys": [KEY], "next_cursor": None},
         _check_page, query={"limit": "100"}),
    Case("keys.list", (10, "m"), {"state": "ACTIVE", "spec": "ED25519", "tag": "team=x=y"},
         "GET", "/v1/keys", None, {"keys": [KEY], "next_cursor": None}, _check_page,
         query={"limit": "10", "cursor": "m", "state": "ACTIVE", "spec": "ED25519",
                "tag": "team=x=y"}),
    Case("keys.list", (), {"tag": ("team", "pay ments")}, "GET", "/v1/keys", None,
         {"keys": [KEY], "next_cursor": None}, _check_page,
         query={"limit": "100", "tag": "team=pay ments"}),
    Case("keys.update", ("orders",), {"description": "new"}, "PATCH", K,
         {"description": "new"}, KEY, _check_key),
    Case("keys.update", ("orders",),
         {"tags": {}, "rotation_period_seconds": 0, "deactivation_date": WHEN,
          "min_decryption_version": 2},
         "PATCH", K,
         {"tags": {}, "rotation_period_seconds": 0,
          "deactivation_date": "2030-01-02T03:04:05+00:00", "min_decryption_version": 2},
         KEY, _check_key),
    Case("keys.update", ("orders",), {}, "PATCH", K, {}, KEY, _check_key),
    Case("keys.versions", ("orders",), {}, "GET", f"{K}/versions", None, VERSIONS,
         _check_versions),
    # lifecycle
    Case("keys.rotate", ("orders",), {}, "POST", f"{K}/rotate", {}, KEY, _check_key),
    Case("keys.activate", ("orders",), {}, "POST", f"{K}/activate", {}, KEY, _check_key),
    Case("keys.suspend", ("orders",), {}, "POST", f"{K}/suspend", {}, KEY, _check_key),
    Case("keys.resume", ("orders",), {}, "POST", f"{K}/resume", {}, KEY, _check_key),
    Case("keys.deactivate", ("orders",), {}, "POST", f"{K}/deactivate", {}, KEY, _check_key),
    Case("keys.revoke", ("orders", "SUPERSEDED"), {}, "POST", f"{K}/revoke",
         {"reason": "SUPERSEDED"}, KEY, _check_key),
    Case("keys.revoke", ("orders", "KEY_COMPROMISE"),
         {"compromise_date": datetime(2030, 1, 2, 4, 4, 5, tzinfo=timezone(timedelta(hours=1)))},
         "POST", f"{K}/revoke",
         {"reason": "KEY_COMPROMISE", "compromise_date": "2030-01-02T04:04:05+01:00"},
         KEY, _check_key),
    Case("keys.schedule_destruction", ("orders",), {}, "POST", f"{K}/schedule-destruction",
         {"pending_days": 30}, KEY, _check_key),
    Case("keys.schedule_destruction", ("orders", 7), {}, "POST",
         f"{K}/schedule-destruction", {"pending_days": 7}, KEY, _check_key),
    Case("keys.cancel_destruction", ("orders",), {}, "POST", f"{K}/cancel-destruction", {},
         KEY, _check_key),
    # encryption
    Case("keys.encrypt", ("orders", PLAINTEXT), {"context": CONTEXT}, "POST", f"{K}/encrypt",
         {"plaintext": b64(PLAINTEXT), "context": CONTEXT}, ENCRYPTED, _check_encrypted),
    Case("keys.decrypt", (CIPHERTEXT,), {}, "POST", "/v1/decrypt",
         {"ciphertext": b64(CIPHERTEXT), "context": {}}, DECRYPTED, _check_decrypted),
    Case("keys.decrypt_with", ("rsa", b"oaep"), {}, "POST", "/v1/keys/rsa/decrypt",
         {"ciphertext": b64(b"oaep"), "context": {}}, DECRYPTED, _check_decrypted),
    Case("keys.decrypt_with", ("orders", CIPHERTEXT, CONTEXT, 2), {}, "POST", f"{K}/decrypt",
         {"ciphertext": b64(CIPHERTEXT), "context": CONTEXT, "version": 2}, DECRYPTED,
         _check_decrypted),
    Case("keys.reencrypt", (CIPHERTEXT,), {"context": CONTEXT}, "POST",
         f"/v1/keys/{KEY_ID}/reencrypt", {"ciphertext": b64(CIPHERTEXT), "context": CONTEXT},
         ENCRYPTED, _check_encrypted),
    Case("keys.reencrypt", (CIPHERTEXT,), {"destination_key": "archive"}, "POST",
         f"/v1/keys/{KEY_ID}/reencrypt",
         {"ciphertext": b64(CIPHERTEXT), "context": {}, "destination_key": "archive"},
         ENCRYPTED, _check_encrypted),
    Case("keys.data_key", ("orders",), {}, "POST", f"{K}/data-key",
         {"spec": "AES_256", "plaintext": True, "context": {}},
         {"ciphertext": b64(CIPHERTEXT), "plaintext": b64(DATA_KEY), "key_id": KEY_ID,
          "version": 3}, _check_data_key),
    Case("keys.data_key", ("orders", "AES_128"), {"plaintext": False, "context": CONTEXT},
         "POST", f"{K}/data-key", {"spec": "AES_128", "plaintext": False, "context": CONTEXT},
         {"ciphertext": b64(CIPHERTEXT), "plaintext": None, "key_id": KEY_ID, "version": 3},
         _check_wrapped_data_key),
    # signatures and MACs
    Case("keys.sign", ("ec",), {"message": b"hello"}, "POST", "/v1/keys/ec/sign",
         {"message": b64(b"hello")}, SIGNED, _check_signature),
    Case("keys.sign", ("ec",), {"digest": b"\x01" * 32, "algorithm": "ECDSA_SHA_256"}, "POST",
         "/v1/keys/ec/sign", {"digest": b64(b"\x01" * 32), "algorithm": "ECDSA_SHA_256"},
         SIGNED, _check_signature),
    Case("keys.sign_batch", ("ec", [b"a", b"b"]), {}, "POST", "/v1/keys/ec/sign/batch",
         {"items": [{"message": b64(b"a")}, {"message": b64(b"b")}]}, SIGNED_BATCH,
         _check_signatures),
    Case("keys.verify", ("ec", SIGNATURE), {"message": b"hello"}, "POST",
         "/v1/keys/ec/verify", {"signature": b64(SIGNATURE), "message": b64(b"hello")},
         {"valid": True}, _is_true),
    Case("keys.verify", ("ec", SIGNATURE),
         {"digest": b"\x02" * 32, "algorithm": "ECDSA_SHA_256", "version": 1}, "POST",
         "/v1/keys/ec/verify",
         {"signature": b64(SIGNATURE), "digest": b64(b"\x02" * 32),
          "algorithm": "ECDSA_SHA_256", "version": 1}, {"valid": False}, _is_false),
    Case("keys.mac", ("hm", b"msg"), {}, "POST", "/v1/keys/hm/mac", {"message": b64(b"msg")},
         MACED, _check_mac),
    Case("keys.mac_verify", ("hm", b"msg", TAG), {}, "POST", "/v1/keys/hm/mac/verify",
         {"message": b64(b"msg"), "mac": b64(TAG)}, {"valid": True}, _is_true),
    Case("keys.mac_verify", ("hm", b"msg", TAG, 4), {}, "POST", "/v1/keys/hm/mac/verify",
         {"message": b64(b"msg"), "mac": b64(TAG), "version": 4}, {"valid": False}, _is_false),
    # public keys, ML-KEM, agreement
    Case("keys.public_key", ("ed",), {}, "GET", "/v1/keys/ed/public-key", None,
         {"key_id": KEY_ID, "version": 1, "format": "pem", "public_key": PEM}, _check_pem,
         query={"format": "pem"}),
    Case("keys.public_key", ("ed", "der"), {}, "GET", "/v1/keys/ed/public-key", None,
         {"key_id": KEY_ID, "version": 1, "format": "der", "public_key": b64(DER)}, _check_der,
         query={"format": "der"}),
    Case("keys.public_key", ("ed",), {"format": "jwk", "version": 2}, "GET",
         "/v1/keys/ed/public-key", None,
         {"key_id": KEY_ID, "version": 2, "format": "jwk", "public_key": JWK}, _check_jwk,
         query={"format": "jwk", "version": "2"}),
    Case("keys.export_key", ("hm",), {"format": "HPKE", "public_key": PEM}, "POST",
         "/v1/keys/hm/export", {"format": "HPKE", "public_key": PEM},
         {"key_id": KEY_ID, "version": 3, "spec": "HMAC_SHA256", "format": "HPKE",
          "encoding": "raw", "wrapped_key": b64(TAG), "jwe": None}, _check_exported),
    Case("keys.import_params", ("HMAC_SHA256",), {}, "POST", "/v1/keys/import-params",
         {"spec": "HMAC_SHA256"},
         {"import_token": "kst_imp_t", "public_key": PEM, "spec": "HMAC_SHA256",
          "wrapping_algorithm": "RSA_AES_KEY_WRAP_SHA_256", "expires_at": "2030-01-02T03:04:05Z"},
         _check_import_params),
    Case("keys.import_key", ("kst_imp_t", TAG), {"key": "orders"}, "POST", "/v1/keys/import",
         {"import_token": "kst_imp_t", "wrapped_material": b64(TAG), "key": "orders"}, KEY,
         _check_key, status=201),
    Case("keys.encapsulate", ("kem",), {}, "POST", "/v1/keys/kem/encapsulate", {},
         {**SHARED, "encapsulation": b64(ENCAPSULATION)}, _check_encapsulation),
    Case("keys.decapsulate", ("kem", ENCAPSULATION), {}, "POST", "/v1/keys/kem/decapsulate",
         {"encapsulation": b64(ENCAPSULATION)}, SHARED, _check_shared_secret),
    Case("keys.decapsulate", ("kem", ENCAPSULATION, 1), {}, "POST",
         "/v1/keys/kem/decapsulate", {"encapsulation": b64(ENCAPSULATION), "version": 1},
         SHARED, _check_shared_secret),
    Case("keys.agree", ("x", b"\x09" * 32), {}, "POST", "/v1/keys/x/agree",
         {"peer_public_key": b64(b"\x09" * 32)}, SHARED, _check_shared_secret),
    Case("random", (16,), {}, "POST", "/v1/random", {"bytes": 16},
         {"random": b64(bytes(range(16)))}, _check_random),
]  # fmt: skip
test_sync_method, test_async_method = HARNESS.method_tests(CASES)


def test_every_keys_method_is_covered() -> None:
    covered = assert_methods_covered(
        CASES, [("keys", keystead_sdk.KeysAPI, keystead_sdk.AsyncKeysAPI)]
    )
    assert "random" in covered


def test_random_mirrors_between_clients() -> None:
    sync, mirror = Client.random, AsyncClient.random
    assert inspect.signature(sync) == inspect.signature(mirror)
    assert inspect.iscoroutinefunction(mirror)


# --- checks made before sending ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "match"),
    [
        (lambda c: c.keys.sign("ec"), "exactly one of message and digest"),
        (lambda c: c.keys.sign("ec", message=b"m", digest=b"d"), "exactly one"),
        (lambda c: c.keys.verify("ec", SIGNATURE), "exactly one"),
        (lambda c: c.keys.sign_batch("ec", []), "1 to 1000 messages, not 0"),
        (lambda c: c.keys.sign_batch("ec", [b"m"] * 1001), "not 1001"),
        (lambda c: c.keys.list(tag="team"), "NAME=VALUE"),
        (lambda c: c.keys.list(tag=("a=b", "c")), "must not contain '='"),
        (lambda c: c.keys.create("k", "AES_256_GCM", activation_date=NAIVE),
         "activation_date must be timezone-aware"),
        (lambda c: c.keys.update("k", deactivation_date=NAIVE),
         "deactivation_date must be timezone-aware"),
        (lambda c: c.keys.revoke("k", "UNSPECIFIED", NAIVE), "timezone-aware"),
        (lambda c: c.keys.reencrypt(b"not a keystead ciphertext at all"),
         "not a Keystead ciphertext"),
        (lambda c: c.keys.reencrypt(CIPHERTEXT[:20]), "not a Keystead ciphertext"),
    ],
)  # fmt: skip
def test_bad_arguments_are_refused_before_sending(
    call: Callable[[Client], object], match: str
) -> None:
    server = Server(body=KEY)
    with sync_client(server) as client, pytest.raises(ValueError, match=match):
        call(client)
    assert server.requests == []


def test_ciphertext_key_id_reads_bytes_3_to_19() -> None:
    assert ciphertext_key_id(CIPHERTEXT) == KEY_ID
    other = CIPHERTEXT[:3] + uuid.UUID(OTHER_ID).bytes + CIPHERTEXT[19:]
    assert ciphertext_key_id(other) == OTHER_ID
    with pytest.raises(ValueError, match="not a Keystead ciphertext"):
        ciphertext_key_id(b"KS\x02" + CIPHERTEXT[3:])


# --- error codes -------------------------------------------------------------------------------

NEW_CODES = [
    (409, "KeyStateForbidsOperation", Conflict),
    (409, "InvalidStateTransition", Conflict),
    (409, "KeyDestroyed", Conflict),
    (400, "KeyVersionTooOld", ValidationFailed),
    (400, "UnsupportedOperation", ValidationFailed),
    (400, "SignatureInvalid", SignatureInvalid),
    (400, "UnsupportedAlgorithm", UnsupportedAlgorithm),
    (400, "InvalidPublicKey", InvalidPublicKey),
    (400, "InvalidCiphertext", InvalidCiphertext),
    (400, "CryptoError", CryptoError),
    (503, "StorageIntegrityError", ServerError),
]


def problem_in_state(status: int, code: str) -> Server:
    return problem(status, code, f"{code} detail, state DEACTIVATED", "req-9")


@pytest.mark.parametrize(("status", "code", "cls"), NEW_CODES)
def test_new_codes_map_to_their_family(status: int, code: str, cls: type[KeysteadAPIError]) -> None:
    with (
        sync_client(problem_in_state(status, code)) as client,
        pytest.raises(KeysteadAPIError) as caught,
    ):
        client.keys.sign("ec", message=b"m")
    error = caught.value
    assert type(error) is cls
    assert (error.status, error.code, error.request_id) == (status, code, "req-9")
    assert "state DEACTIVATED" in error.detail


@pytest.mark.anyio
@pytest.mark.parametrize(("status", "code", "cls"), NEW_CODES)
async def test_async_new_codes(status: int, code: str, cls: type[KeysteadAPIError]) -> None:
    async with async_client(problem_in_state(status, code)) as client:
        with pytest.raises(cls):
            await client.keys.rotate("orders")


@pytest.mark.parametrize(
    "cls", [InvalidCiphertext, SignatureInvalid, UnsupportedAlgorithm, InvalidPublicKey]
)
def test_crypto_errors_share_a_family(cls: type[KeysteadAPIError]) -> None:
    assert issubclass(cls, CryptoError)
    assert not issubclass(cls, ValidationFailed)


# --- answers of the wrong shape ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("call", "body"),
    [
        (lambda c: c.keys.verify("ec", SIGNATURE, message=b"m"), {"valid": "yes"}),
        (lambda c: c.keys.mac_verify("hm", b"m", TAG), [True]),
        (lambda c: c.random(4), {"random": "!!!"}),
        (lambda c: c.random(4), {"random": 4}),
        (lambda c: c.keys.public_key("ed"), {"key_id": KEY_ID, "version": 1, "format": "x",
                                              "public_key": PEM}),
        (lambda c: c.keys.public_key("ed", "jwk"), {"key_id": KEY_ID, "version": 1,
                                                     "format": "jwk", "public_key": PEM}),
        (lambda c: c.keys.public_key("ed", "der"), {"key_id": KEY_ID, "version": 1,
                                                     "format": "der", "public_key": "%%"}),
        (lambda c: c.keys.get("orders"), {**KEY, "tags": None}),
    ],
)  # fmt: skip
def test_wrong_shapes_are_server_errors(call: Callable[[Client], object], body: object) -> None:
    with sync_client(Server(body=body)) as client, pytest.raises(ServerError) as caught:
        call(client)
    assert caught.value.code == "InvalidResponse"


# --- secrets stay out of reprs -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "secret"),
    [
        (DataKey(ciphertext=CIPHERTEXT, key_id=KEY_ID, version=1, plaintext=DATA_KEY), DATA_KEY),
        (Decrypted(plaintext=PLAINTEXT, key_id=KEY_ID, version=1), PLAINTEXT),
        (SharedSecret(shared_secret=SECRET, key_id=KEY_ID, version=1), SECRET),
        (Encapsulation(shared_secret=SECRET, encapsulation=ENCAPSULATION, key_id=KEY_ID,
                       version=1), SECRET),
    ],
)  # fmt: skip
def test_reprs_hide_secrets(model: object, secret: bytes) -> None:
    for text in (repr(model), str(model)):
        assert repr(secret) not in text
        assert b64(secret) not in text
        assert secret.hex() not in text
        assert KEY_ID in text


def test_wrapped_data_key_repr_shows_the_ciphertext() -> None:
    key = DataKey(ciphertext=b"wrapped", key_id=KEY_ID, version=1)
    assert "wrapped" in repr(key)
    assert "plaintext" not in repr(key)


def test_models_are_frozen() -> None:
    secret = SharedSecret(shared_secret=SECRET, key_id=KEY_ID, version=1)
    with pytest.raises(ValueError, match="frozen"):
        secret.version = 2  # type: ignore[misc]


def test_a_failed_batch_item_raises_its_own_error() -> None:
    answer = {**SIGNED_BATCH, "results": [
        {"signature": b64(SIGNATURE), "version": 3},
        {"error": {"code": "KeyStateForbidsOperation", "detail": "the key is SUSPENDED"}},
    ]}  # fmt: skip
    with sync_client(Server(body=answer)) as client, pytest.raises(Conflict) as caught:
        client.keys.sign_batch("ec", [b"a", b"b"])
    assert (caught.value.code, caught.value.detail) == (
        "KeyStateForbidsOperation", "the key is SUSPENDED",
    )  # fmt: skip
