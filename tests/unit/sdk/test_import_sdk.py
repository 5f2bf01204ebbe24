"""``client.keys.import_params`` and ``client.keys.import_key`` against canned answers.

Sync and async: the bodies sent for a new key and for a new version (with ``valid_to``), the
parsed answers, the checks made before sending, the error codes of the endpoints, and reprs
that show neither the import token nor the wrapped material.
"""

from __future__ import annotations

import inspect
from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import SecretStr

import keystead_sdk
from conftest import b64
from keystead_sdk import (
    Conflict,
    ImportParams,
    ImportTokenInvalid,
    InvalidCiphertext,
    Key,
    KeysAPI,
    KeysteadAPIError,
    NotFound,
    PermissionDenied,
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

TOKEN = "kst_root_import-sdk-token"
IMPORT_TOKEN = "kst_imp_secret-import-token"
KEY_ID = "0f8fad5b-d9cb-469f-a165-70867728950e"
PEM = "-----BEGIN PUBLIC KEY-----\nMIIBojANBgkqhkiG9w0BAQEFAAOCAY8A\n-----END PUBLIC KEY-----\n"
WRAPPED = b"\x00\x01wrapped-material\xff" * 24
VALID_TO = datetime(2031, 6, 1, 12, 0, tzinfo=UTC)
VALID_TO_PLUS_2 = datetime(2031, 6, 1, 14, 0, tzinfo=timezone(timedelta(hours=2)))
PARAMS_PATH = "/v1/keys/import-params"
IMPORT_PATH = "/v1/keys/import"

HARNESS = Harness(token=TOKEN)
sync_client, async_client = HARNESS.sync_client, HARNESS.async_client

PARAMS = {
    "import_token": IMPORT_TOKEN,
    "public_key": PEM,
    "wrapping_algorithm": "RSA_AES_KEY_WRAP_SHA_256",
    "spec": "AES_256_GCM",
    "expires_at": "2026-11-29T12:00:00Z",
}
KEY: dict[str, object] = {
    "id": KEY_ID, "name": "byok", "spec": "AES_256_GCM", "usage": "ENCRYPT_DECRYPT",
    "state": "ACTIVE", "primary_version": 2, "min_decryption_version": 1, "description": "",
    "tags": {}, "owner": "kim", "protection": "SOFTWARE", "origin": "EXTERNAL",
    "exportable": False, "backup_allowed": True, "rotation_period_seconds": None,
    "next_rotation_at": None, "activation_date": None, "deactivation_date": None,
    "destruction_date": None, "revocation_reason": None, "compromise_date": None,
    "created_at": "2026-11-28T12:00:00Z", "updated_at": "2026-11-28T13:00:00Z",
}  # fmt: skip
NEW_KEY_DEFAULTS = {"description": "", "tags": {}, "exportable": False, "backup_allowed": True}


def _check_params(result: ImportParams) -> None:
    assert isinstance(result, ImportParams)
    assert isinstance(result.import_token, SecretStr)
    assert result.import_token.get_secret_value() == IMPORT_TOKEN
    assert (result.public_key, result.spec) == (PEM, "AES_256_GCM")
    assert result.wrapping_algorithm == "RSA_AES_KEY_WRAP_SHA_256"
    assert result.expires_at == datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


def _check_key(result: Key) -> None:
    assert isinstance(result, Key)
    assert (result.id, result.origin, result.primary_version) == (KEY_ID, "EXTERNAL", 2)


def _sent(**fields: object) -> dict[str, object]:
    return {"import_token": IMPORT_TOKEN, "wrapped_material": b64(WRAPPED), **fields}


CASES = [
    Case("keys.import_params", ("AES_256_GCM",), {}, "POST", PARAMS_PATH,
         {"spec": "AES_256_GCM"}, PARAMS, _check_params),
    Case("keys.import_key", (IMPORT_TOKEN, WRAPPED), {"name": "byok"}, "POST", IMPORT_PATH,
         _sent(name="byok", **NEW_KEY_DEFAULTS), KEY, _check_key, status=201),
    Case("keys.import_key", (SecretStr(IMPORT_TOKEN), WRAPPED),
         {"name": "signer", "usage": "SIGN_VERIFY", "description": "from the HSM",
          "tags": {"team": "pay"}, "exportable": True, "backup_allowed": False,
          "valid_to": VALID_TO},
         "POST", IMPORT_PATH,
         _sent(name="signer", description="from the HSM", tags={"team": "pay"},
               exportable=True, backup_allowed=False, usage="SIGN_VERIFY",
               valid_to="2031-06-01T12:00:00+00:00"),
         KEY, _check_key, status=201),
    Case("keys.import_key", (IMPORT_TOKEN, WRAPPED), {"key": "byok"}, "POST", IMPORT_PATH,
         _sent(key="byok"), KEY, _check_key, status=201),
    Case("keys.import_key", (IMPORT_TOKEN, WRAPPED),
         {"key": KEY_ID, "valid_to": VALID_TO_PLUS_2},
         "POST", IMPORT_PATH, _sent(key=KEY_ID, valid_to="2031-06-01T14:00:00+02:00"), KEY,
         _check_key, status=201),
]  # fmt: skip
test_sync_method, test_async_method = HARNESS.method_tests(CASES)


@pytest.mark.parametrize("name", ["import_params", "import_key"])
def test_the_async_methods_mirror_the_sync_ones(name: str) -> None:
    sync = getattr(keystead_sdk.KeysAPI, name)
    mirror = getattr(keystead_sdk.AsyncKeysAPI, name)
    assert inspect.signature(sync) == inspect.signature(mirror)
    assert inspect.iscoroutinefunction(mirror)


def test_import_key_takes_its_target_and_options_by_keyword() -> None:
    params = inspect.signature(KeysAPI.import_key).parameters
    keyword_only = [n for n, p in params.items() if p.kind is inspect.Parameter.KEYWORD_ONLY]
    assert keyword_only == [
        "name", "key", "valid_to", "usage", "description", "tags", "exportable",
        "backup_allowed",
    ]  # fmt: skip


def test_docstring_lists_what_it_raises() -> None:
    raises = (inspect.getdoc(KeysAPI.import_key) or "").split("Raises:", 1)[1]
    for name in ("ImportTokenInvalid", "InvalidCiphertext", "KeyStateForbidsOperation",
                 "UnsupportedOperation", "ValueError"):  # fmt: skip
        assert name in raises


# --- checks made before sending ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({}, "exactly one of name"),
        ({"name": "a", "key": "b"}, "exactly one of name"),
        ({"key": "b", "exportable": True}, "describe a new key"),
        ({"key": "b", "tags": {"t": "v"}}, "describe a new key"),
        ({"key": "b", "backup_allowed": False}, "describe a new key"),
        ({"key": "b", "usage": "SIGN_VERIFY"}, "describe a new key"),
        ({"name": "a", "valid_to": VALID_TO.replace(tzinfo=None)}, "timezone-aware"),
    ],
)
def test_bad_arguments_are_refused_before_sending(kwargs: dict[str, object], match: str) -> None:
    server = Server(body=KEY, status=201)
    with sync_client(server) as client, pytest.raises(ValueError, match=match):
        client.keys.import_key(IMPORT_TOKEN, WRAPPED, **kwargs)  # type: ignore[arg-type]
    assert server.requests == []


# --- error codes -------------------------------------------------------------------------------

ERRORS = [
    (400, "ImportTokenInvalid", ImportTokenInvalid),
    (400, "InvalidCiphertext", InvalidCiphertext),
    (400, "ValidationFailed", ValidationFailed),
    (400, "UnsupportedOperation", ValidationFailed),
    (403, "PermissionDenied", PermissionDenied),
    (404, "KeyNotFound", NotFound),
    (409, "KeyStateForbidsOperation", Conflict),
    (409, "KeyAlreadyExists", Conflict),
]


@pytest.mark.parametrize(("status", "code", "cls"), ERRORS)
def test_errors_map_to_their_family(status: int, code: str, cls: type[KeysteadAPIError]) -> None:
    with (
        sync_client(problem(status, code, f"{code} detail", "req-7")) as client,
        pytest.raises(cls) as caught,
    ):
        client.keys.import_key(IMPORT_TOKEN, WRAPPED, key="byok")
    assert type(caught.value) is cls
    assert (caught.value.status, caught.value.code, caught.value.request_id) == (
        status, code, "req-7",
    )  # fmt: skip


@pytest.mark.anyio
@pytest.mark.parametrize(("status", "code", "cls"), ERRORS)
async def test_async_errors_map_to_their_family(
    status: int, code: str, cls: type[KeysteadAPIError]
) -> None:
    async with async_client(problem(status, code, f"{code} detail", "req-7")) as client:
        with pytest.raises(cls) as caught:
            await client.keys.import_key(IMPORT_TOKEN, WRAPPED, name="byok")
    assert caught.value.code == code


def test_an_invalid_token_is_a_validation_error() -> None:
    assert issubclass(ImportTokenInvalid, ValidationFailed)
    assert "ImportTokenInvalid" in keystead_sdk.__all__
    assert ImportTokenInvalid.__module__ == "keystead_sdk"


def test_import_params_errors_map_too() -> None:
    with (
        sync_client(problem(403, "PermissionDenied", "no", "req-7")) as client,
        pytest.raises(PermissionDenied),
    ):
        client.keys.import_params("AES_256_GCM")


# --- secrets stay out of reprs -------------------------------------------------------------------


def test_the_import_token_is_hidden_from_reprs() -> None:
    params = ImportParams.model_validate(PARAMS)
    for text in (repr(params), str(params), params.model_dump_json()):
        assert IMPORT_TOKEN not in text
    assert PEM.splitlines()[1] in repr(params)
    assert "ImportParams" in keystead_sdk.__all__
    with pytest.raises(ValueError, match="frozen"):
        params.spec = "HMAC_SHA256"  # type: ignore[misc]


def test_the_call_hides_the_token_and_the_material() -> None:
    from keystead_sdk import _calls

    call = _calls.import_key(
        IMPORT_TOKEN, WRAPPED, name="byok", key=None, valid_to=None, usage=None,
        description="", tags=None, exportable=False, backup_allowed=True,
    )  # fmt: skip
    assert IMPORT_TOKEN not in repr(call)
    assert b64(WRAPPED) not in repr(call)
