"""``keystead key import`` through CliRunner: BYOK material wrapped locally, then imported.

Against a fake server holding a real RSA-3072 wrapping key, so each test unwraps what the
CLI sent and compares it with the material file; and once against the real server in
process. The material, the import token and the wrapped bytes are never printed.
"""

from __future__ import annotations

import base64
import hmac
import json
import os
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.keywrap import aes_key_unwrap_with_padding
from typer.testing import Result

from cli_harness import (
    ADDRESS,
    CliHarness,
    FakeServer,
    plain_terminal,  # noqa: F401  (an autouse fixture)
    problem,
    run,
    table_lines,
)
from identity_support import running
from keystead.cli import client as cli_client
from keystead.config import Settings
from keystead_sdk import Client

TOKEN = "kst_import-cli-caller-token"
IMPORT_TOKEN = "kst_imp_cli-import-token-never-printed"
KEY_ID = "0f8fad5b-d9cb-469f-a165-70867728950e"
MATERIAL = b"MATERIAL-" + bytes(range(23))  # 32 bytes: AES_256_GCM, HMAC_SHA256
WRAPPING_KEY = rsa.generate_private_key(public_exponent=65537, key_size=3072)
PUBLIC_PEM = (
    WRAPPING_KEY.public_key()
    .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    .decode()
)
_PKCS8 = (serialization.Encoding.DER, serialization.PrivateFormat.PKCS8)
_NO_PASSWORD = serialization.NoEncryption()


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


CLI = CliHarness(
    TOKEN, never_print=(IMPORT_TOKEN, "MATERIAL-", b64(MATERIAL), MATERIAL.hex(), "PRIVATE KEY")
)
server = CLI.server_fixture()
assert_clean_exit = CLI.assert_clean_exit


def key_body(**changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "id": KEY_ID, "name": "orders", "spec": "AES_256_GCM", "usage": "ENCRYPT_DECRYPT",
        "state": "ACTIVE", "primary_version": 1, "min_decryption_version": 1,
        "description": "", "tags": {}, "owner": "kim", "protection": "SOFTWARE",
        "origin": "EXTERNAL", "exportable": False, "backup_allowed": True,
        "rotation_period_seconds": None, "next_rotation_at": None, "activation_date": None,
        "deactivation_date": None, "destruction_date": None, "revocation_reason": None,
        "compromise_date": None, "created_at": "2026-11-28T12:00:00Z",
        "updated_at": "2026-11-28T12:00:00Z",
    }  # fmt: skip
    return {**body, **changes}


def unwrap(wrapped: bytes) -> bytes:
    """What the server does with RSA_AES_KEY_WRAP_SHA_256 (AWS KMS's layout)."""
    oaep = padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None)
    aes_key = WRAPPING_KEY.decrypt(wrapped[:384], oaep)
    return aes_key_unwrap_with_padding(aes_key, wrapped[384:])


class ImportServer:
    """The two BYOK endpoints over a FakeServer: parameters, and the import it unwraps."""

    def __init__(self, fake: FakeServer, answer: dict[str, object]) -> None:
        self.fake = fake
        self.imported: list[dict[str, object]] = []
        self.unwrapped: list[bytes] = []
        fake.on("POST", "/v1/keys/import-params", self._params)
        fake.on("POST", "/v1/keys/import", self._import(answer))

    def _params(self, request: httpx.Request) -> httpx.Response:
        spec = json.loads(request.content)["spec"]
        return httpx.Response(200, json={
            "import_token": IMPORT_TOKEN, "public_key": PUBLIC_PEM, "spec": spec,
            "wrapping_algorithm": "RSA_AES_KEY_WRAP_SHA_256",
            "expires_at": "2026-11-29T12:00:00Z",
        })  # fmt: skip

    def _import(self, answer: dict[str, object]):
        def handle(request: httpx.Request) -> httpx.Response:
            body = json.loads(request.content)
            self.unwrapped.append(unwrap(base64.b64decode(body.pop("wrapped_material"))))
            self.imported.append(body)
            return httpx.Response(201, json=answer)

        return handle


@pytest.fixture
def material(tmp_path: Path) -> Path:
    path = tmp_path / "material.bin"
    path.write_bytes(MATERIAL)
    return path


def import_(*args: str, stdin: str | None = None) -> Result:
    result: Result = run("key", "import", *args, stdin=stdin)
    return result


def test_a_new_key_from_raw_material(server: FakeServer, material: Path) -> None:
    fake = ImportServer(server, key_body())
    result = import_("orders", "--spec", "aes_256_gcm", "--material-file", str(material))
    assert_clean_exit(result, 0)
    assert server.calls() == [("POST", "/v1/keys/import-params"), ("POST", "/v1/keys/import")]
    assert server.body(0) == {"spec": "AES_256_GCM"}
    assert fake.unwrapped == [MATERIAL]
    assert fake.imported == [{
        "import_token": IMPORT_TOKEN, "name": "orders", "description": "", "tags": {},
        "exportable": False, "backup_allowed": True,
    }]  # fmt: skip
    lines = table_lines(result.stdout, drop_inner=True)
    assert {f"ID {KEY_ID}", "Origin EXTERNAL", "Primary version 1", "Material valid to -"} <= lines


def test_the_new_key_options_are_sent(server: FakeServer, material: Path) -> None:
    fake = ImportServer(server, key_body(spec="HMAC_SHA256", exportable=True))
    result = import_(
        "macs", "--spec", "HMAC_SHA256", "--material-file", str(material),
        "--valid-to", "2031-01-02", "--description", "from the HSM", "--tag", "team=pay",
        "--exportable", "--no-backup", "--usage", "generate_verify_mac",
    )  # fmt: skip
    assert_clean_exit(result, 0)
    assert fake.imported == [{
        "import_token": IMPORT_TOKEN, "name": "macs", "description": "from the HSM",
        "tags": {"team": "pay"}, "exportable": True, "backup_allowed": False,
        "usage": "GENERATE_VERIFY_MAC", "valid_to": "2031-01-02T00:00:00+00:00",
    }]  # fmt: skip
    assert "Material valid to 2031-01-02 00:00:00Z" in table_lines(result.stdout, drop_inner=True)


def _pem(private: ed25519.Ed25519PrivateKey | ec.EllipticCurvePrivateKey, form) -> bytes:
    return private.private_bytes(serialization.Encoding.PEM, form, _NO_PASSWORD)


@pytest.mark.parametrize("encoding", ["pem", "der"])
def test_an_asymmetric_key_is_sent_as_pkcs8_der(
    server: FakeServer, tmp_path: Path, encoding: str
) -> None:
    private = ed25519.Ed25519PrivateKey.generate()
    pkcs8 = private.private_bytes(*_PKCS8, _NO_PASSWORD)
    path = tmp_path / f"signer.{encoding}"
    path.write_bytes(
        _pem(private, serialization.PrivateFormat.PKCS8) if encoding == "pem" else pkcs8
    )
    fake = ImportServer(server, key_body(spec="ED25519", usage="SIGN_VERIFY"))
    result = import_("signer", "--spec", "ED25519", "--material-file", str(path))
    assert_clean_exit(result, 0)
    assert fake.unwrapped == [pkcs8]


def test_a_traditional_ec_pem_is_converted_to_pkcs8(server: FakeServer, tmp_path: Path) -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    path = tmp_path / "ec.pem"
    path.write_bytes(_pem(private, serialization.PrivateFormat.TraditionalOpenSSL))
    assert path.read_bytes().startswith(b"-----BEGIN EC PRIVATE KEY-----")
    fake = ImportServer(server, key_body(spec="EC_P256", usage="SIGN_VERIFY"))
    assert_clean_exit(import_("ec", "--spec", "EC_P256", "--material-file", str(path)), 0)
    loaded = serialization.load_der_private_key(fake.unwrapped[0], None)
    assert isinstance(loaded, ec.EllipticCurvePrivateKey)
    assert loaded.private_numbers() == private.private_numbers()


def test_a_new_version_into_a_key(server: FakeServer, material: Path) -> None:
    server.on("GET", "/v1/keys/orders", key_body())
    fake = ImportServer(server, key_body(primary_version=2))
    result = import_(
        "--into", "orders", "--material-file", str(material), "--valid-to", "2031-01-02T12:00Z"
    )
    assert_clean_exit(result, 0)
    assert server.calls() == [("GET", "/v1/keys/orders"), ("POST", "/v1/keys/import-params"),
                              ("POST", "/v1/keys/import")]  # fmt: skip
    assert server.body(1) == {"spec": "AES_256_GCM"}  # the key's own spec
    assert fake.imported == [
        {"import_token": IMPORT_TOKEN, "key": "orders", "valid_to": "2031-01-02T12:00:00+00:00"}
    ]
    assert fake.unwrapped == [MATERIAL]
    assert result.stdout == (
        "Imported version 2 into orders, now primary; it expires 2031-01-02 12:00:00Z.\n"
    )


def test_json_output(server: FakeServer, material: Path) -> None:
    ImportServer(server, key_body())
    result = import_(
        "orders", "--spec", "AES_256_GCM", "--material-file", str(material), "--format", "json"
    )
    assert_clean_exit(result, 0)
    assert json.loads(result.stdout)["origin"] == "EXTERNAL"


def test_material_from_stdin(server: FakeServer) -> None:
    fake = ImportServer(server, key_body())
    text = "0123456789abcdef0123456789abcdef"
    result = import_("orders", "--spec", "AES_256_GCM", "--material-file", "-", stdin=text)
    assert_clean_exit(result, 0)
    assert fake.unwrapped == [text.encode()]


# --- refused before any request ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--spec", "AES_256_GCM"], "give NAME"),
        (["orders", "--into", "other"], "not both"),
        (["orders"], "needs --spec"),
        (["--into", "orders", "--spec", "AES_256_GCM"], "leave out --spec"),
        (["--into", "orders", "--exportable"], "are for a new key"),
        (["--into", "orders", "--description", "x"], "are for a new key"),
        (["orders", "--spec", "AES_999"], "unknown spec"),
        (["orders", "--spec", "AES_128_GCM"], "takes 16 bytes of material, not 32"),
        (["orders", "--spec", "ED25519"], "PKCS#8"),
        (["orders", "--spec", "AES_256_GCM", "--valid-to", "soon"], "ISO 8601"),
        (["orders", "--spec", "AES_256_GCM", "--tag", "novalue"], "NAME=VALUE"),
    ],
)
def test_usage_errors_exit_2_and_send_nothing(
    server: FakeServer, material: Path, args: list[str], message: str
) -> None:
    ImportServer(server, key_body())
    result = import_(*args, "--material-file", str(material))
    assert_clean_exit(result, 2)
    assert message in " ".join(result.output.replace("│", " ").split())
    assert server.requests == []


def test_an_encrypted_pem_is_refused(server: FakeServer, tmp_path: Path) -> None:
    encrypted = ed25519.Ed25519PrivateKey.generate().private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(b"pass phrase"),
    )  # fmt: skip
    path = tmp_path / "locked.pem"
    path.write_bytes(encrypted)
    result = import_("signer", "--spec", "ED25519", "--material-file", str(path))
    assert_clean_exit(result, 2)
    assert "is encrypted" in result.output
    assert server.requests == []


@pytest.mark.usefixtures("server")
def test_a_missing_material_file_exits_1(tmp_path: Path) -> None:
    missing = tmp_path / "missing.bin"
    result = import_("orders", "--spec", "AES_256_GCM", "--material-file", str(missing))
    assert_clean_exit(result, 1)
    assert result.stderr.startswith(f"Error: FileError: cannot read {missing}")


def test_into_checks_the_material_against_the_keys_spec(server: FakeServer, material: Path) -> None:
    server.on("GET", "/v1/keys/signer", key_body(name="signer", spec="ED25519"))
    result = import_("--into", "signer", "--material-file", str(material))
    assert_clean_exit(result, 2)
    assert "ED25519" in result.output
    assert server.calls() == [("GET", "/v1/keys/signer")]  # no token asked for in vain


def test_another_wrapping_algorithm_is_not_used(server: FakeServer, material: Path) -> None:
    other = {
        "import_token": IMPORT_TOKEN, "public_key": PUBLIC_PEM, "spec": "AES_256_GCM",
        "wrapping_algorithm": "RSA_OAEP_SHA_1", "expires_at": "2026-11-29T12:00:00Z",
    }  # fmt: skip
    server.on("POST", "/v1/keys/import-params", other)
    result = import_("orders", "--spec", "AES_256_GCM", "--material-file", str(material))
    assert_clean_exit(result, 1)
    assert result.stderr.startswith("Error: UnsupportedAlgorithm: the server offered RSA_OAEP_")
    assert server.calls() == [("POST", "/v1/keys/import-params")]


# --- server errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "exit_code"),
    [
        (400, "ImportTokenInvalid", 3),
        (400, "InvalidCiphertext", 3),
        (400, "UnsupportedOperation", 3),
        (403, "PermissionDenied", 4),
        (409, "KeyStateForbidsOperation", 6),
        (409, "KeyAlreadyExists", 6),
    ],
)
def test_server_errors_print_one_line_and_exit_with_the_family_code(
    server: FakeServer, material: Path, status: int, code: str, exit_code: int
) -> None:
    ImportServer(server, key_body())
    server.on("POST", "/v1/keys/import", lambda _: problem(status, code, "no import"))
    result = import_("orders", "--spec", "AES_256_GCM", "--material-file", str(material))
    assert_clean_exit(result, exit_code)
    assert result.stderr == f"Error: {code}: no import [request_id=req-5]\n"
    assert result.stdout == ""


def test_an_unknown_key_to_import_into_exits_5(server: FakeServer, material: Path) -> None:
    server.on("GET", "/v1/keys/nope", lambda _: problem(404, "KeyNotFound", "no key"))
    result = import_("--into", "nope", "--material-file", str(material))
    assert_clean_exit(result, 5)
    assert server.calls() == [("GET", "/v1/keys/nope")]


# --- against the real server -------------------------------------------------------------------


@pytest.fixture
def real_server(settings: Settings, monkeypatch: pytest.MonkeyPatch) -> Iterator[Client]:
    """``make_client`` gives a client of an in-process server, as its root."""
    with running(settings) as started:
        token = started.root["authorization"].removeprefix("Bearer ")

        def forward(request: httpx.Request) -> httpx.Response:
            answer = started.client.request(
                request.method, request.url.raw_path.decode(), content=request.content,
                headers=dict(request.headers),
            )  # fmt: skip
            return httpx.Response(
                answer.status_code, headers=answer.headers, content=answer.content
            )

        transport = httpx.MockTransport(forward)

        def make_client(_: str | None = None, *, use_saved: bool = True) -> Client:
            del use_saved
            return Client(ADDRESS, token=token, transport=transport)

        monkeypatch.setattr(cli_client, "make_client", make_client)
        with make_client() as client:
            yield client


def test_round_trip_with_the_real_server(real_server: Client, tmp_path: Path) -> None:
    first, second = os.urandom(32), os.urandom(32)
    (tmp_path / "v1").write_bytes(first)
    (tmp_path / "v2").write_bytes(second)
    made = import_("byok", "--spec", "HMAC_SHA256", "--material-file", str(tmp_path / "v1"))
    assert made.exit_code == 0, made.output
    added = import_("--into", "byok", "--material-file", str(tmp_path / "v2"),
                    "--valid-to", "2030-01-01")  # fmt: skip
    assert added.exit_code == 0, added.output
    # The in-process server's request log shares stdout with the CLI here.
    assert "Imported version 2 into byok, now primary" in added.stdout
    for result in (made, added):
        assert b64(first) not in result.output
        assert first.hex() not in result.output
        assert "kst_imp_" not in result.output
    assert real_server.keys.mac("byok", b"m").mac == hmac.new(second, b"m", "sha256").digest()
    old = hmac.new(first, b"m", "sha256").digest()
    assert real_server.keys.mac_verify("byok", b"m", old, version=1)
    versions = real_server.keys.versions("byok").versions
    assert [(v.version, v.valid_to is not None) for v in versions] == [(1, False), (2, True)]
    refused = import_("--into", "byok", "--material-file", str(tmp_path / "v1"),
                      "--valid-to", "2020-01-01")  # fmt: skip
    assert refused.exit_code == 3
    assert "must be in the future" in refused.stderr
