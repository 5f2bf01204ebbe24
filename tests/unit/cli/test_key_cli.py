"""``keystead key`` through CliRunner, with the SDK client on an httpx.MockTransport."""

from __future__ import annotations

import base64
import json
import stat
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
from typer.testing import CliRunner, Result

from keystead.cli import client as cli_client
from keystead.cli import io
from keystead.cli.main import app
from keystead_sdk import Client

ADDRESS = "https://kms.test:8200"
TOKEN = "kst_root_key-cli-token"
KEY_ID = "0f8fad5b-d9cb-469f-a165-70867728950e"
DATA_KEY = bytes(range(100, 132))
SIGNATURE = b"\x30\x44" + b"\x5a" * 68
DER = b"\x30\x2a\x30\x05\x06\x03\x2b\x65\x70\x03\x21\x00" + b"\x01" * 32
PEM = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAAQEBAQ==\n-----END PUBLIC KEY-----\n"

Handler = Callable[[httpx.Request], httpx.Response]


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def key_body(**changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "id": KEY_ID,
        "name": "orders",
        "spec": "AES_256_GCM",
        "usage": "ENCRYPT_DECRYPT",
        "state": "ACTIVE",
        "primary_version": 1,
        "min_decryption_version": 1,
        "description": "order [bold]data[/bold]",
        "tags": {"team": "payments"},
        "owner": None,
        "protection": "SOFTWARE",
        "origin": "KEYSTEAD",
        "exportable": False,
        "backup_allowed": True,
        "rotation_period_seconds": 90 * 86400,
        "next_rotation_at": "2025-04-02T03:04:05Z",
        "activation_date": None,
        "deactivation_date": None,
        "destruction_date": None,
        "revocation_reason": None,
        "compromise_date": None,
        "created_at": "2025-01-02T03:04:05Z",
        "updated_at": "2025-01-02T03:04:05Z",
    }
    return {**body, **changes}


def problem(status: int, code: str, detail: str = "the detail") -> httpx.Response:
    body = {
        "type": f"urn:keystead:error:{code}",
        "title": "Title",
        "status": status,
        "detail": detail,
        "code": code,
        "request_id": "req-7",
    }
    return httpx.Response(status, json=body, headers={"content-type": "application/problem+json"})


def seal_blob(plaintext: bytes, context: Mapping[str, str], version: int = 1) -> bytes:
    """A toy 'ciphertext' with a real Keystead header, so that the CLI can read its key id."""
    header = b"KS\x01" + uuid.UUID(KEY_ID).bytes + version.to_bytes(4, "big") + b"\x01"
    return header + json.dumps(dict(context), sort_keys=True).encode() + b"|" + plaintext[::-1]


def open_blob(blob: bytes, context: Mapping[str, str]) -> bytes | None:
    bound, _, body = blob[24:].partition(b"|")
    if bound != json.dumps(dict(context), sort_keys=True).encode():
        return None
    return body[::-1]


@dataclass
class FakeServer:
    """Routes (method, path) to handlers, and keeps the requests."""

    routes: dict[tuple[str, str], Handler] = field(default_factory=dict)
    requests: list[httpx.Request] = field(default_factory=list)

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        path = request.url.raw_path.split(b"?")[0].decode()
        handler = self.routes.get((request.method, path))
        if handler is None:
            return problem(404, "RouteNotFound", f"{request.method} {path}")
        return handler(request)

    def on(self, method: str, path: str, answer: object = None, *, status: int = 200) -> None:
        def canned(_: httpx.Request) -> httpx.Response:
            return httpx.Response(status, json=answer)

        self.routes[(method, path)] = answer if callable(answer) else canned

    @property
    def last(self) -> httpx.Request:
        return self.requests[-1]

    @property
    def last_json(self) -> object:
        return json.loads(self.last.content)


@pytest.fixture(autouse=True)
def _plain_terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("FORCE_COLOR", "KEYSTEAD_ADDR", "KEYSTEAD_TOKEN", "KEYSTEAD_CACERT"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("NO_COLOR", "1")
    monkeypatch.setenv("COLUMNS", "200")


@pytest.fixture
def server(monkeypatch: pytest.MonkeyPatch) -> FakeServer:
    fake = FakeServer()

    def make_client() -> Client:
        return Client(ADDRESS, token=TOKEN, transport=httpx.MockTransport(fake))

    monkeypatch.setattr(cli_client, "make_client", make_client)
    return fake


def run(*args: str, stdin: bytes | str | None = None) -> Result:
    return CliRunner().invoke(app, ["key", *args], input=stdin)


def assert_clean_exit(result: Result, code: int) -> None:
    assert result.exit_code == code, result.output
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    assert "Traceback" not in result.output
    assert TOKEN not in result.output


# --- create, list, show, update --------------------------------------------------------------


def test_create_sends_every_option(server: FakeServer) -> None:
    server.on("POST", "/v1/keys", key_body(), status=201)
    result = run(
        "create", "orders", "--spec", "aes_256_gcm", "--usage", "encrypt_decrypt",
        "--description", "d", "--tag", "team=payments", "--tag", "env=a=b",
        "--rotation-period", "90d", "--activation-date", "2030-01-02",
        "--deactivation-date", "2031-01-02T00:00:00+02:00", "--exportable", "--no-backup",
    )  # fmt: skip
    assert_clean_exit(result, 0)
    assert server.last_json == {
        "name": "orders",
        "spec": "AES_256_GCM",
        "usage": "ENCRYPT_DECRYPT",
        "description": "d",
        "tags": {"team": "payments", "env": "a=b"},
        "rotation_period_seconds": 90 * 86400,
        "activation_date": "2030-01-02T00:00:00+00:00",
        "deactivation_date": "2031-01-02T00:00:00+02:00",
        "exportable": True,
        "backup_allowed": False,
    }
    assert KEY_ID in result.stdout
    assert "order [bold]data[/bold]" in result.stdout  # printed verbatim, not as markup
    assert "team=payments" in result.stdout
    assert "90d" in result.stdout


def test_create_defaults_and_json(server: FakeServer) -> None:
    server.on("POST", "/v1/keys", key_body(), status=201)
    result = run("create", "orders", "--spec", "ED25519", "--format", "json")
    assert_clean_exit(result, 0)
    assert server.last_json == {
        "name": "orders",
        "spec": "ED25519",
        "description": "",
        "tags": {},
        "exportable": False,
        "backup_allowed": True,
    }
    assert json.loads(result.stdout)["id"] == KEY_ID


def test_create_in_the_hsm(server: FakeServer) -> None:
    server.on("POST", "/v1/keys", key_body(), status=201)
    result = run("create", "signer", "--spec", "EC_P256", "--protection", "HSM")
    assert_clean_exit(result, 0)
    sent = server.last_json
    assert (sent["protection"], sent["backup_allowed"]) == ("HSM", False)
    refused = run("create", "signer", "--spec", "EC_P256", "--protection", "TPM")
    assert refused.exit_code == 2


@pytest.mark.parametrize(
    "args",
    [
        ("--tag", "novalue"),
        ("--tag", "=v"),
        ("--rotation-period", "ninety days"),
        ("--rotation-period", "5y"),
        ("--activation-date", "tomorrow"),
        ("--deactivation-date", "2030-13-01"),
    ],
)
def test_create_bad_options_are_usage_errors(server: FakeServer, args: tuple[str, str]) -> None:
    result = run("create", "orders", "--spec", "AES_256_GCM", *args)
    assert_clean_exit(result, 2)
    assert server.requests == []


@pytest.mark.parametrize(
    ("text", "seconds"),
    [
        ("3600", 3600),
        ("45s", 45),
        ("30m", 1800),
        ("12h", 43200),
        ("90d", 7_776_000),
        ("2w", 1_209_600),
    ],
)
def test_durations(text: str, seconds: int) -> None:
    assert io.parse_duration(text, "--rotation-period") == seconds
    assert io.parse_duration(io.format_duration(seconds), "--x") == seconds


def test_format_duration() -> None:
    assert io.format_duration(None) == "off"
    assert io.format_duration(0) == "off"
    assert io.format_duration(3601) == "3601s"
    assert io.format_duration(7 * 86400) == "1w"


def test_list_table_and_filters(server: FakeServer) -> None:
    page = {"keys": [key_body(), key_body(name="signer", spec="ED25519")], "next_cursor": None}
    server.on("GET", "/v1/keys", page)
    result = run(
        "list", "--state", "active", "--spec", "ed25519", "--tag", "team=payments", "--limit", "5"
    )
    assert_clean_exit(result, 0)
    assert dict(server.last.url.params) == {
        "limit": "5",
        "state": "ACTIVE",
        "spec": "ED25519",
        "tag": "team=payments",
    }
    for text in ("Name", "Primary version", "orders", "signer", "ED25519", "2025-01-02 03:04:05Z"):
        assert text in result.stdout
    assert "more keys" not in result.stderr


def paged(request: httpx.Request) -> httpx.Response:
    if "cursor" not in request.url.params:
        return httpx.Response(200, json={"keys": [key_body(name="a")], "next_cursor": "a"})
    assert request.url.params["cursor"] == "a"
    return httpx.Response(200, json={"keys": [key_body(name="b")], "next_cursor": None})


def test_list_one_page_hints_at_the_next(server: FakeServer) -> None:
    server.on("GET", "/v1/keys", paged)
    result = run("list", "--limit", "1")
    assert_clean_exit(result, 0)
    assert len(server.requests) == 1
    assert "--cursor a" in result.stderr


def test_list_all_follows_every_page_as_json(server: FakeServer) -> None:
    server.on("GET", "/v1/keys", paged)
    result = run("list", "--limit", "1", "--all", "--format", "json")
    assert_clean_exit(result, 0)
    assert len(server.requests) == 2
    body = json.loads(result.stdout)
    assert [key["name"] for key in body["keys"]] == ["a", "b"]
    assert body["next_cursor"] is None


def test_list_bad_tag_is_a_usage_error(server: FakeServer) -> None:
    assert_clean_exit(run("list", "--tag", "team"), 2)
    assert server.requests == []


def test_show_table_and_json(server: FakeServer) -> None:
    server.on("GET", "/v1/keys/orders", key_body(revocation_reason="SUPERSEDED"))
    result = run("show", "orders")
    assert_clean_exit(result, 0)
    for text in ("Key orders", "AES_256_GCM", "Min decryption version", "SUPERSEDED", "SOFTWARE"):
        assert text in result.stdout
    as_json = run("show", "orders", "--format", "json")
    assert_clean_exit(as_json, 0)
    assert json.loads(as_json.stdout)["revocation_reason"] == "SUPERSEDED"


def test_update_sends_only_what_is_given(server: FakeServer) -> None:
    server.on("PATCH", "/v1/keys/orders", key_body())
    result = run("update", "orders", "--description", "new", "--rotation-period", "0")
    assert_clean_exit(result, 0)
    assert server.last_json == {"description": "new", "rotation_period_seconds": 0}
    assert_clean_exit(run("update", "orders", "--clear-tags"), 0)
    assert server.last_json == {"tags": {}}
    result = run(
        "update", "orders", "--tag", "a=1", "--min-decryption-version", "2",
        "--deactivation-date", "2030-01-01T00:00:00Z",
    )  # fmt: skip
    assert_clean_exit(result, 0)
    assert server.last_json == {
        "tags": {"a": "1"},
        "min_decryption_version": 2,
        "deactivation_date": "2030-01-01T00:00:00+00:00",
    }


@pytest.mark.parametrize("args", [(), ("--tag", "a=1", "--clear-tags")])
def test_update_usage_errors(server: FakeServer, args: tuple[str, ...]) -> None:
    assert_clean_exit(run("update", "orders", *args), 2)
    assert server.requests == []


# --- versions, rotation, lifecycle -------------------------------------------------------------

VERSIONS = {
    "key_id": KEY_ID,
    "versions": [
        {
            "version": 1,
            "state": "DEACTIVATED",
            "primary": False,
            "created_at": "2025-01-02T03:04:05Z",
            "use_count": 42,
            "last_used_at": "2025-01-03T00:00:00Z",
            "destruction_date": None,
            "destroyed_at": None,
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


def test_rotate_then_versions(server: FakeServer) -> None:
    server.on("POST", "/v1/keys/orders/rotate", key_body(primary_version=2))
    server.on("GET", "/v1/keys/orders/versions", VERSIONS)
    result = run("rotate", "orders")
    assert_clean_exit(result, 0)
    assert server.last_json == {}
    assert "Rotated orders: primary version 2." in result.stdout
    table = run("versions", "orders")
    assert_clean_exit(table, 0)
    for text in ("Versions of orders", "DEACTIVATED", "42", "2025-01-03 00:00:00Z", "yes"):
        assert text in table.stdout
    as_json = run("versions", "orders", "--format", "json")
    assert_clean_exit(as_json, 0)
    assert [v["use_count"] for v in json.loads(as_json.stdout)["versions"]] == [42, 0]


@pytest.mark.parametrize(
    ("verb", "path", "state"),
    [
        ("activate", "activate", "ACTIVE"),
        ("suspend", "suspend", "SUSPENDED"),
        ("resume", "resume", "ACTIVE"),
        ("deactivate", "deactivate", "DEACTIVATED"),
        ("cancel-destruction", "cancel-destruction", "DEACTIVATED"),
    ],
)
def test_lifecycle_verbs(server: FakeServer, verb: str, path: str, state: str) -> None:
    server.on("POST", f"/v1/keys/orders/{path}", key_body(state=state))
    result = run(verb, "orders")
    assert_clean_exit(result, 0)
    assert server.last_json == {}
    assert f"Key orders is now {state}." in result.stdout
    as_json = run(verb, "orders", "--format", "json")
    assert json.loads(as_json.stdout)["state"] == state


def test_revoke(server: FakeServer) -> None:
    server.on("POST", "/v1/keys/orders/revoke", key_body(state="COMPROMISED"))
    result = run(
        "revoke", "orders", "--reason", "key_compromise", "--compromise-date", "2025-01-01"
    )
    assert_clean_exit(result, 0)
    assert server.last_json == {
        "reason": "KEY_COMPROMISE",
        "compromise_date": "2025-01-01T00:00:00+00:00",
    }
    assert "Key orders is now COMPROMISED." in result.stdout
    assert_clean_exit(run("revoke", "orders"), 2)  # --reason is required


def test_schedule_destruction(server: FakeServer) -> None:
    answer = key_body(state="DESTROY_PENDING", destruction_date="2025-01-09T03:04:05Z")
    server.on("POST", "/v1/keys/orders/schedule-destruction", answer)
    result = run("schedule-destruction", "orders", "--days", "7")
    assert_clean_exit(result, 0)
    assert server.last_json == {"pending_days": 7}
    assert "DESTROY_PENDING; destruction on 2025-01-09 03:04:05Z" in result.stdout
    assert_clean_exit(run("schedule-destruction", "orders"), 0)
    assert server.last_json == {"pending_days": 30}


# --- encrypt, decrypt, reencrypt -----------------------------------------------------------------


def install_crypto(server: FakeServer) -> None:
    def encrypt(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        blob = seal_blob(base64.b64decode(body["plaintext"]), body["context"])
        return httpx.Response(200, json={"ciphertext": b64(blob), "key_id": KEY_ID, "version": 1})

    def decrypt(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        plaintext = open_blob(base64.b64decode(body["ciphertext"]), body["context"])
        if plaintext is None:
            return problem(400, "InvalidCiphertext", "decryption failed")
        return httpx.Response(
            200, json={"plaintext": b64(plaintext), "key_id": KEY_ID, "version": 1}
        )

    def reencrypt(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        plaintext = open_blob(base64.b64decode(body["ciphertext"]), body["context"])
        assert plaintext is not None
        blob = seal_blob(plaintext, body["context"], version=2)
        return httpx.Response(200, json={"ciphertext": b64(blob), "key_id": KEY_ID, "version": 2})

    server.on("POST", "/v1/keys/orders/encrypt", encrypt)
    server.on("POST", "/v1/decrypt", decrypt)
    server.on("POST", "/v1/keys/orders/decrypt", decrypt)
    server.on("POST", f"/v1/keys/{KEY_ID}/reencrypt", reencrypt)
    server.on("POST", "/v1/keys/archive/reencrypt", reencrypt)


def test_encrypt_decrypt_round_trip_through_files(server: FakeServer, tmp_path: Path) -> None:
    install_crypto(server)
    plaintext = bytes(range(256)) * 4
    (tmp_path / "plain.bin").write_bytes(plaintext)
    ciphertext, recovered = tmp_path / "ct.bin", tmp_path / "out.bin"
    context = ("--context", "tenant=a", "--context", "purpose=test")
    result = run(
        "encrypt", "orders", "--in", str(tmp_path / "plain.bin"), "--out", str(ciphertext), *context
    )
    assert_clean_exit(result, 0)
    assert result.stdout == ""
    assert ciphertext.read_bytes().startswith(b"KS\x01")
    assert json.loads(server.requests[0].content)["context"] == {"tenant": "a", "purpose": "test"}

    result = run("decrypt", "--in", str(ciphertext), "--out", str(recovered), *context)
    assert_clean_exit(result, 0)
    assert recovered.read_bytes() == plaintext
    assert stat.S_IMODE(recovered.stat().st_mode) == 0o600

    wrong = run("decrypt", "--in", str(ciphertext), "--context", "tenant=b")
    assert_clean_exit(wrong, 3)
    assert "Error: InvalidCiphertext: decryption failed [request_id=req-7]" in wrong.stderr


def test_encrypt_stdin_to_base64_then_decrypt_base64_to_stdout(server: FakeServer) -> None:
    install_crypto(server)
    encrypted = run("encrypt", "orders", stdin=b"from stdin\n")
    assert_clean_exit(encrypted, 0)
    text = encrypted.stdout.strip()
    assert base64.b64decode(text, validate=True).startswith(b"KS\x01")
    decrypted = run("decrypt", stdin=text + "\n")
    assert_clean_exit(decrypted, 0)
    assert decrypted.stdout_bytes == b"from stdin\n"


def test_encrypt_raw_to_stdout(server: FakeServer) -> None:
    install_crypto(server)
    result = run("encrypt", "orders", "--out", "-", stdin=b"x")
    assert_clean_exit(result, 0)
    assert result.stdout_bytes.startswith(b"KS\x01")


def test_decrypt_with_a_key(server: FakeServer, tmp_path: Path) -> None:
    install_crypto(server)
    blob = tmp_path / "ct"
    blob.write_bytes(seal_blob(b"secret", {}))
    result = run("decrypt", "--key", "orders", "--in", str(blob), "--version", "3")
    assert_clean_exit(result, 0)
    assert server.last.url.path == "/v1/keys/orders/decrypt"
    assert server.last_json == {"ciphertext": b64(blob.read_bytes()), "context": {}, "version": 3}
    assert result.stdout_bytes == b"secret"
    assert_clean_exit(run("decrypt", "--in", str(blob), "--version", "3"), 2)


def test_reencrypt_goes_to_the_key_in_the_header(server: FakeServer, tmp_path: Path) -> None:
    install_crypto(server)
    source = tmp_path / "ct"
    source.write_bytes(seal_blob(b"moving", {"t": "1"}))
    result = run(
        "reencrypt", "--in", str(source), "--context", "t=1", "--out", str(tmp_path / "new")
    )
    assert_clean_exit(result, 0)
    assert server.last.url.path == f"/v1/keys/{KEY_ID}/reencrypt"
    assert "destination_key" not in server.last_json  # type: ignore[operator]
    assert (tmp_path / "new").read_bytes() == seal_blob(b"moving", {"t": "1"}, version=2)

    result = run(
        "reencrypt", "--in", str(source), "--context", "t=1", "--destination-key", "archive"
    )
    assert_clean_exit(result, 0)
    assert server.last.url.path == f"/v1/keys/{KEY_ID}/reencrypt"
    assert server.last_json["destination_key"] == "archive"  # type: ignore[index]
    assert base64.b64decode(result.stdout.strip()).startswith(b"KS\x01")


def test_reencrypt_refuses_a_blob_without_header(server: FakeServer) -> None:
    result = run("reencrypt", stdin=b"not a keystead ciphertext at all")
    assert_clean_exit(result, 3)
    assert "Error: InvalidCiphertext: not a Keystead ciphertext" in result.stderr
    assert server.requests == []


def test_missing_input_file_exits_1(server: FakeServer, tmp_path: Path) -> None:
    result = run("encrypt", "orders", "--in", str(tmp_path / "missing"))
    assert_clean_exit(result, 1)
    assert "Error: FileError: cannot read" in result.stderr
    assert server.requests == []


@pytest.mark.parametrize(
    ("data", "decoded"),
    [
        (b"KS\x01raw", b"KS\x01raw"),
        (b64(b"KS\x01raw").encode() + b"\n", b"KS\x01raw"),
        (b"\xff\x00 not base64", b"\xff\x00 not base64"),
        (b"", b""),
    ],
)
def test_decode_blob(data: bytes, decoded: bytes) -> None:
    assert io.decode_blob(data) == decoded


# --- data keys -----------------------------------------------------------------------------------


def install_data_key(server: FakeServer) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        with_plaintext = json.loads(request.content)["plaintext"]
        body = {
            "ciphertext": b64(seal_blob(DATA_KEY, {})),
            "plaintext": b64(DATA_KEY) if with_plaintext else None,
            "key_id": KEY_ID,
            "version": 1,
        }
        return httpx.Response(200, json=body)

    server.on("POST", "/v1/keys/orders/data-key", answer)


def assert_no_data_key(text: str) -> None:
    assert b64(DATA_KEY) not in text
    assert DATA_KEY.hex() not in text


def test_data_key_plaintext_needs_a_file_or_reveal(server: FakeServer) -> None:
    install_data_key(server)
    result = run("data-key", "orders")
    assert_clean_exit(result, 2)
    assert "--reveal" in result.output
    assert server.requests == []


def test_data_key_plaintext_to_a_private_file(server: FakeServer, tmp_path: Path) -> None:
    install_data_key(server)
    secret, wrapped = tmp_path / "dk", tmp_path / "dk.wrapped"
    result = run(
        "data-key", "orders", "--spec", "aes_128", "--out-plaintext", str(secret),
        "--out-ciphertext", str(wrapped), "--context", "a=b",
    )  # fmt: skip
    assert_clean_exit(result, 0)
    assert server.last_json == {"spec": "AES_128", "plaintext": True, "context": {"a": "b"}}
    assert secret.read_bytes() == DATA_KEY
    assert stat.S_IMODE(secret.stat().st_mode) == 0o600
    assert wrapped.read_bytes() == seal_blob(DATA_KEY, {})
    assert_no_data_key(result.output)
    assert f"Key ID: {KEY_ID}" in result.stdout


def test_data_key_wrapped_only(server: FakeServer) -> None:
    install_data_key(server)
    result = run("data-key", "orders", "--wrapped-only")
    assert_clean_exit(result, 0)
    assert server.last_json == {"spec": "AES_256", "plaintext": False, "context": {}}
    assert f"Ciphertext: {b64(seal_blob(DATA_KEY, {}))}" in result.stdout
    assert "Plaintext" not in result.stdout


def test_data_key_reveal_prints_it_with_a_warning(server: FakeServer) -> None:
    install_data_key(server)
    result = run("data-key", "orders", "--reveal")
    assert_clean_exit(result, 0)
    assert f"Plaintext: {b64(DATA_KEY)}" in result.stdout
    assert "Warning: the plaintext data key is printed" in result.stderr


@pytest.mark.parametrize(
    "args",
    [
        ("--wrapped-only", "--reveal"),
        ("--wrapped-only", "--out-plaintext", "f"),
        ("--out-plaintext", "-"),
    ],
)
def test_data_key_conflicting_options(server: FakeServer, args: tuple[str, ...]) -> None:
    assert_clean_exit(run("data-key", "orders", *args), 2)
    assert server.requests == []


# --- sign, verify, MAC ---------------------------------------------------------------------------


def install_signing(server: FakeServer) -> None:
    def sign(_: httpx.Request) -> httpx.Response:
        body = {"signature": b64(SIGNATURE), "key_id": KEY_ID, "version": 1, "algorithm": "ED25519"}
        return httpx.Response(200, json=body)

    def verify(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        good = base64.b64decode(body["signature"]) == SIGNATURE
        return httpx.Response(200, json={"valid": good})

    server.on("POST", "/v1/keys/ed/sign", sign)
    server.on("POST", "/v1/keys/ed/verify", verify)


def test_sign_then_verify_exit_codes(server: FakeServer, tmp_path: Path) -> None:
    install_signing(server)
    message, signature = tmp_path / "msg", tmp_path / "sig"
    message.write_bytes(b"hello")
    result = run("sign", "ed", "--in", str(message), "--out", str(signature))
    assert_clean_exit(result, 0)
    assert server.last_json == {"message": b64(b"hello")}
    assert signature.read_bytes() == SIGNATURE

    valid = run("verify", "ed", "--signature", str(signature), "--in", str(message))
    assert_clean_exit(valid, 0)
    assert valid.stdout == "Valid\n"
    assert server.last_json == {"signature": b64(SIGNATURE), "message": b64(b"hello")}

    signature.write_bytes(b"\x00" + SIGNATURE[1:])
    invalid = run("verify", "ed", "--signature", str(signature), "--in", str(message))
    assert_clean_exit(invalid, 1)
    assert invalid.stdout == "Invalid\n"


def test_sign_a_hex_digest_and_verify_a_base64_signature(
    server: FakeServer, tmp_path: Path
) -> None:
    install_signing(server)
    digest = bytes(range(32))
    signed = run(
        "sign", "ed", "--digest", "--algorithm", "ECDSA_SHA_256", stdin=f"{digest.hex()}  -\n"
    )
    assert_clean_exit(signed, 0)
    assert server.last_json == {"digest": b64(digest), "algorithm": "ECDSA_SHA_256"}
    assert signed.stdout.strip() == b64(SIGNATURE)
    signature = tmp_path / "sig.b64"
    signature.write_text(signed.stdout)
    result = run(
        "verify", "ed", "--signature", str(signature), "--digest", "--version", "2", stdin=digest
    )
    assert_clean_exit(result, 0)
    assert server.last_json == {"signature": b64(SIGNATURE), "digest": b64(digest), "version": 2}


def test_mac_and_mac_verify(server: FakeServer, tmp_path: Path) -> None:
    tag = bytes(range(200, 232))
    server.on(
        "POST", "/v1/keys/hm/mac",
        {"mac": b64(tag), "key_id": KEY_ID, "version": 1, "algorithm": "HMAC_SHA256"},
    )  # fmt: skip
    server.on("POST", "/v1/keys/hm/mac/verify", {"valid": False})
    result = run("mac", "hm", stdin=b"msg")
    assert_clean_exit(result, 0)
    assert result.stdout.strip() == b64(tag)
    (tmp_path / "tag").write_bytes(tag)
    result = run("mac-verify", "hm", "--mac", str(tmp_path / "tag"), "--version", "1", stdin=b"msg")
    assert_clean_exit(result, 1)
    assert result.stdout == "Invalid\n"
    assert server.last_json == {"message": b64(b"msg"), "mac": b64(tag), "version": 1}


# --- public keys, random -------------------------------------------------------------------------


def test_public_key_formats(server: FakeServer, tmp_path: Path) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        form = request.url.params["format"]
        value = {"pem": PEM, "der": b64(DER), "jwk": {"kty": "OKP", "crv": "Ed25519"}}[form]
        return httpx.Response(
            200, json={"key_id": KEY_ID, "version": 1, "format": form, "public_key": value}
        )

    server.on("GET", "/v1/keys/ed/public-key", answer)
    pem = run("public-key", "ed")
    assert_clean_exit(pem, 0)
    assert pem.stdout == PEM
    der = run(
        "public-key", "ed", "--format", "der", "--version", "1", "--out", str(tmp_path / "k.der")
    )
    assert_clean_exit(der, 0)
    assert dict(server.last.url.params) == {"format": "der", "version": "1"}
    assert (tmp_path / "k.der").read_bytes() == DER
    jwk = run("public-key", "ed", "--format", "jwk")
    assert_clean_exit(jwk, 0)
    assert json.loads(jwk.stdout) == {"kty": "OKP", "crv": "Ed25519"}
    assert_clean_exit(run("public-key", "ed", "--format", "ssh"), 2)


def test_random(server: FakeServer, tmp_path: Path) -> None:
    data = bytes(range(16))
    server.on("POST", "/v1/random", {"random": b64(data)})
    hex_out = run("random", "16")
    assert_clean_exit(hex_out, 0)
    assert server.last_json == {"bytes": 16}
    assert hex_out.stdout == f"{data.hex()}\n"
    assert run("random", "16", "--encoding", "base64").stdout == f"{b64(data)}\n"
    assert_clean_exit(run("random", "16", "--out", str(tmp_path / "r")), 0)
    assert (tmp_path / "r").read_bytes() == data
    assert_clean_exit(run("random", "0"), 2)
    assert_clean_exit(run("random", "1025"), 2)


# --- errors and exit codes -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "exit_code"),
    [
        (404, "KeyNotFound", 5),
        (409, "KeyStateForbidsOperation", 6),
        (409, "InvalidStateTransition", 6),
        (409, "KeyDestroyed", 6),
        (400, "KeyVersionTooOld", 3),
        (400, "UnsupportedOperation", 3),
        (400, "UnsupportedAlgorithm", 3),
        (400, "SignatureInvalid", 3),
        (400, "InvalidPublicKey", 3),
        (400, "InvalidCiphertext", 3),
        (401, "Unauthenticated", 4),
        (403, "PermissionDenied", 4),
        (503, "Sealed", 7),
        (503, "StorageIntegrityError", 1),
    ],
)
def test_api_errors_print_one_line_and_exit_with_the_family_code(
    server: FakeServer, status: int, code: str, exit_code: int
) -> None:
    server.on("POST", "/v1/keys/orders/sign", lambda _: problem(status, code, "state is SUSPENDED"))
    result = run("sign", "orders", stdin=b"m")
    assert_clean_exit(result, exit_code)
    assert result.stderr == f"Error: {code}: state is SUSPENDED [request_id=req-7]\n"
    assert result.stdout == ""


@pytest.mark.parametrize(
    "args",
    [
        ("show", "orders"),
        ("rotate", "orders"),
        ("versions", "orders"),
        ("suspend", "orders"),
        ("encrypt", "orders"),
        ("public-key", "orders"),
        ("random", "4"),
    ],
)
@pytest.mark.usefixtures("server")
def test_every_command_maps_errors(args: tuple[str, ...]) -> None:
    result = run(*args, stdin=b"data")
    assert_clean_exit(result, 5)  # the fake server knows no route here
    assert result.stderr.startswith("Error: RouteNotFound: ")


def test_unreachable_server_exits_8(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        msg = "[Errno 111] Connection refused"
        raise httpx.ConnectError(msg, request=request)

    def make_client() -> Client:
        return Client(ADDRESS, token=TOKEN, transport=httpx.MockTransport(refuse))

    monkeypatch.setattr(cli_client, "make_client", make_client)
    result = run("list")
    assert_clean_exit(result, 8)
    assert "Error: TransportError: cannot reach Keystead" in result.stderr
