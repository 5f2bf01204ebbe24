"""``client.keys.export_key`` against canned answers (httpx.MockTransport), sync and async.

The body sent for each wrapping format, the parsed answer (base64 decoded), the checks made
before sending, the error codes of the endpoint, and a repr that shows no wrapped material.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable

import pytest

import keystead_sdk
from conftest import b64
from keystead_sdk import (
    Conflict,
    CryptoError,
    ExportedKey,
    InvalidPublicKey,
    KeyNotExportable,
    KeysAPI,
    KeysteadAPIError,
    NotFound,
    PermissionDenied,
    ServerError,
    ValidationFailed,
)
from sdk_harness import (
    Case,
    Harness,
    Server,
    anyio_backend,  # noqa: F401  (a fixture: pytest finds it by name)
    clean_env,  # noqa: F401  (an autouse fixture)
    problem,
)

TOKEN = "kst_root_export-sdk-token"
KEY_ID = "0f8fad5b-d9cb-469f-a165-70867728950e"
PEM = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VuAyEA\n-----END PUBLIC KEY-----\n"
JWK = {"kty": "OKP", "crv": "X25519", "x": "AQEBAQ"}
WRAPPED = b"\x00\x01wrapped\xff" * 8
JWE = "eyJhbGciOiJFQ0RILUVTIn0..aXY.Y3Q.dGFn"
PATH = "/v1/keys/orders/export"

HARNESS = Harness(token=TOKEN)
sync_client, async_client = HARNESS.sync_client, HARNESS.async_client


def answer(form: str, **changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "key_id": KEY_ID,
        "version": 2,
        "spec": "HMAC_SHA256",
        "format": form,
        "encoding": "raw",
        "wrapped_key": b64(WRAPPED),
        "jwe": None,
    }
    return {**body, **changes}


def _check_wrapped(form: str) -> Callable[[ExportedKey], None]:
    def check(result: ExportedKey) -> None:
        assert isinstance(result, ExportedKey)
        assert result.wrapped_key == WRAPPED  # decoded from base64
        assert result.jwe is None
        assert (result.key_id, result.version, result.spec) == (KEY_ID, 2, "HMAC_SHA256")
        assert (result.format, result.encoding) == (form, "raw")

    return check


def _check_jwe(result: ExportedKey) -> None:
    assert (result.jwe, result.wrapped_key) == (JWE, None)
    assert (result.format, result.encoding, result.spec) == ("JWE", "pkcs8-der", "ED25519")


JWE_ANSWER = answer("JWE", spec="ED25519", encoding="pkcs8-der", wrapped_key=None, jwe=JWE)

CASES = [
    Case("keys.export_key", ("orders",),
         {"format": "RSA_AES_KEY_WRAP_SHA_256", "public_key": PEM}, "POST", PATH,
         {"format": "RSA_AES_KEY_WRAP_SHA_256", "public_key": PEM},
         answer("RSA_AES_KEY_WRAP_SHA_256"), _check_wrapped("RSA_AES_KEY_WRAP_SHA_256")),
    Case("keys.export_key", ("orders",), {"format": "HPKE", "public_key": PEM, "version": 2},
         "POST", PATH, {"format": "HPKE", "public_key": PEM, "version": 2}, answer("HPKE"),
         _check_wrapped("HPKE")),
    Case("keys.export_key", ("orders",), {"format": "JWE", "jwk": JWK}, "POST", PATH,
         {"format": "JWE", "jwk": JWK}, JWE_ANSWER, _check_jwe),
    Case("keys.export_key", ("a/b",), {"format": "JWE", "jwk": JWK, "version": 1}, "POST",
         "/v1/keys/a%2Fb/export", {"format": "JWE", "jwk": JWK, "version": 1}, JWE_ANSWER,
         _check_jwe),
]  # fmt: skip
test_sync_method, test_async_method = HARNESS.method_tests(CASES)


def test_export_key_mirrors_between_clients() -> None:
    sync, mirror = keystead_sdk.KeysAPI.export_key, keystead_sdk.AsyncKeysAPI.export_key
    assert inspect.signature(sync) == inspect.signature(mirror)
    assert inspect.iscoroutinefunction(mirror)
    keyword_only = inspect.Parameter.KEYWORD_ONLY
    params = inspect.signature(sync).parameters
    assert [name for name, p in params.items() if p.kind is keyword_only] == [
        "format", "public_key", "jwk", "version",
    ]  # fmt: skip


def test_docstring_lists_what_it_raises() -> None:
    doc = inspect.getdoc(KeysAPI.export_key) or ""
    raises = doc.split("Raises:", 1)[1]
    for name in ("PermissionDenied", "KeyNotExportable", "InvalidPublicKey", "ValueError"):
        assert name in raises


# --- checks made before sending ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"format": "JWE", "public_key": PEM}, "JWE export takes the recipient as jwk"),
        ({"format": "JWE"}, "JWE export takes the recipient as jwk"),
        ({"format": "JWE", "jwk": JWK, "public_key": PEM}, "as jwk, not public_key"),
        ({"format": "HPKE", "jwk": JWK}, "HPKE export takes the recipient as public_key"),
        ({"format": "RSA_AES_KEY_WRAP_SHA_256"}, "as public_key"),
        ({"format": "HPKE", "jwk": JWK, "public_key": PEM}, "not jwk"),
    ],
)
def test_the_wrong_recipient_is_refused_before_sending(
    kwargs: dict[str, object], match: str
) -> None:
    server = Server(body=answer("HPKE"))
    with sync_client(server) as client, pytest.raises(ValueError, match=match):
        client.keys.export_key("orders", **kwargs)  # type: ignore[arg-type]
    assert server.requests == []


# --- error codes -------------------------------------------------------------------------------

ERRORS = [
    (403, "KeyNotExportable", KeyNotExportable),
    (403, "PermissionDenied", PermissionDenied),
    (400, "InvalidPublicKey", InvalidPublicKey),
    (400, "ValidationFailed", ValidationFailed),
    (404, "KeyVersionNotFound", NotFound),
    (409, "KeyStateForbidsOperation", Conflict),
    (409, "KeyDestroyed", Conflict),
]


def _assert_error(error: KeysteadAPIError, status: int, code: str) -> None:
    assert (error.status, error.code, error.request_id) == (status, code, "req-3")
    assert error.detail == f"{code} detail"


@pytest.mark.parametrize(("status", "code", "cls"), ERRORS)
def test_errors_map_to_their_family(status: int, code: str, cls: type[KeysteadAPIError]) -> None:
    server = problem(status, code, f"{code} detail", "req-3")
    with sync_client(server) as client, pytest.raises(cls) as caught:
        client.keys.export_key("orders", format="HPKE", public_key=PEM)
    _assert_error(caught.value, status, code)


@pytest.mark.anyio
@pytest.mark.parametrize(("status", "code", "cls"), ERRORS)
async def test_async_errors_map_to_their_family(
    status: int, code: str, cls: type[KeysteadAPIError]
) -> None:
    server = problem(status, code, f"{code} detail", "req-3")
    async with async_client(server) as client:
        with pytest.raises(cls) as caught:
            await client.keys.export_key("orders", format="JWE", jwk=JWK)
    _assert_error(caught.value, status, code)


def test_key_not_exportable_is_a_permission_error_not_a_crypto_one() -> None:
    with (
        sync_client(problem(403, "KeyNotExportable", "not exportable", "req-3")) as client,
        pytest.raises(PermissionDenied) as caught,
    ):
        client.keys.export_key("orders", format="HPKE", public_key=PEM)
    assert not isinstance(caught.value, CryptoError)
    assert caught.value.code == "KeyNotExportable"


def test_invalid_public_key_is_a_crypto_error() -> None:
    with (
        sync_client(problem(400, "InvalidPublicKey", "not an RSA key", "req-3")) as client,
        pytest.raises(CryptoError) as caught,
    ):
        client.keys.export_key("orders", format="RSA_AES_KEY_WRAP_SHA_256", public_key=PEM)
    assert type(caught.value) is InvalidPublicKey
    assert not isinstance(caught.value, ValidationFailed)


# --- answers of the wrong shape ------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        answer("HPKE", wrapped_key=None),  # no material at all
        answer("JWE", jwe=JWE),  # both
        answer("HPKE", wrapped_key="%%not base64%%"),
        {key: value for key, value in answer("HPKE").items() if key != "encoding"},
    ],
)
def test_wrong_shapes_are_server_errors(body: object) -> None:
    with sync_client(Server(body=body)) as client, pytest.raises(ServerError) as caught:
        client.keys.export_key("orders", format="HPKE", public_key=PEM)
    assert caught.value.code == "InvalidResponse"


# --- the wrapped material stays out of reprs -----------------------------------------------------


def test_repr_shows_no_wrapped_material() -> None:
    wrapped = ExportedKey.model_validate(answer("HPKE"))
    jwe = ExportedKey.model_validate(JWE_ANSWER)
    for text in (repr(wrapped), str(wrapped), repr(jwe), str(jwe)):
        assert b64(WRAPPED) not in text
        assert repr(WRAPPED) not in text
        assert JWE not in text
        assert KEY_ID in text


def test_exported_key_is_exported_and_frozen() -> None:
    assert "ExportedKey" in keystead_sdk.__all__
    exported = ExportedKey.model_validate(answer("HPKE"))
    with pytest.raises(ValueError, match="frozen"):
        exported.version = 3  # type: ignore[misc]
