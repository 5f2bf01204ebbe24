"""``keystead key export`` through CliRunner, with the SDK client on an httpx.MockTransport.

The file it writes (mode 0600, the wrapped bytes or the compact JWE), its refusal to
overwrite without ``--force``, the recipient options each format takes, the server's errors
and their exit codes; the wrapped material is never printed.
"""

from __future__ import annotations

import base64
import json
from pathlib import Path

import httpx
import pytest
from typer.testing import Result

from cli_harness import (
    CliHarness,
    FakeServer,
    mode,
    plain_terminal,  # noqa: F401  (an autouse fixture)
    problem,
    run,
    table_lines,
)

TOKEN = "kst_export-cli-caller-token"
KEY_ID = "0f8fad5b-d9cb-469f-a165-70867728950e"
WRAPPED = b"WRAPPED-MATERIAL-" + bytes(range(256))
JWE = "eyJhbGciOiJSU0EtT0FFUC0yNTYifQ.ZW5jcnlwdGVkLWtleQ.aXY.Y2lwaGVydGV4dA.dGFn"
PEM = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VuAyEAAQEBAQ==\n-----END PUBLIC KEY-----\n"
JWK = {"kty": "OKP", "crv": "X25519", "x": "AQEBAQ"}
PATH = "/v1/keys/orders/export"


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


CLI = CliHarness(TOKEN, never_print=("WRAPPED-MATERIAL", b64(WRAPPED), WRAPPED.hex(), JWE))
server = CLI.server_fixture()
assert_clean_exit = CLI.assert_clean_exit


def answer(form: str, **changes: object) -> dict[str, object]:
    body: dict[str, object] = {
        "key_id": KEY_ID,
        "version": 3,
        "spec": "AES_256_GCM",
        "format": form,
        "encoding": "raw",
        "wrapped_key": b64(WRAPPED),
        "jwe": None,
    }
    return {**body, **changes}


@pytest.fixture
def pem_file(tmp_path: Path) -> Path:
    path = tmp_path / "recipient.pem"
    path.write_text(PEM)
    return path


@pytest.fixture
def jwk_file(tmp_path: Path) -> Path:
    path = tmp_path / "recipient.jwk"
    path.write_text(json.dumps(JWK))
    return path


def export(*args: str, stdin: str | None = None) -> Result:
    result: Result = run("key", "export", *args, stdin=stdin)
    return result


@pytest.mark.parametrize("form", ["HPKE", "RSA_AES_KEY_WRAP_SHA_256"])
def test_writes_the_wrapped_bytes_to_a_new_private_file(
    server: FakeServer, pem_file: Path, tmp_path: Path, form: str
) -> None:
    server.on("POST", PATH, answer(form))
    out = tmp_path / "orders.wrapped"
    result = export("orders", "--format", form, "--recipient", str(pem_file), "--out", str(out))
    assert_clean_exit(result, 0)
    assert server.body() == {"format": form, "public_key": PEM}
    assert out.read_bytes() == WRAPPED
    assert mode(out) == 0o600
    lines = table_lines(result.stdout, drop_inner=True)
    assert f"Key ID {KEY_ID}" in lines
    assert "Version 3" in lines
    assert f"Format {form}" in lines
    assert "Encoding raw" in lines
    assert f"Written to {out}" in lines


def test_jwe_writes_the_compact_jwe(server: FakeServer, jwk_file: Path, tmp_path: Path) -> None:
    jwe = answer("JWE", spec="ED25519", encoding="pkcs8-der", wrapped_key=None, jwe=JWE)
    server.on("POST", PATH, jwe)
    out = tmp_path / "orders.jwe"
    result = export(
        "orders", "--format", "jwe", "--jwk", str(jwk_file), "--version", "2", "--out", str(out)
    )
    assert_clean_exit(result, 0)
    assert server.body() == {"format": "JWE", "jwk": JWK, "version": 2}
    assert out.read_text() == JWE
    assert mode(out) == 0o600
    lines = table_lines(result.stdout, drop_inner=True)
    assert {"Format JWE", "Encoding pkcs8-der", "Spec ED25519"} <= lines


def test_the_recipient_pem_can_come_from_stdin(server: FakeServer, tmp_path: Path) -> None:
    server.on("POST", PATH, answer("HPKE"))
    out = tmp_path / "w"
    result = export("orders", "--format", "hpke", "--recipient", "-", "--out", str(out), stdin=PEM)
    assert_clean_exit(result, 0)
    assert server.body() == {"format": "HPKE", "public_key": PEM}
    assert out.read_bytes() == WRAPPED


# --- the output file ---------------------------------------------------------------------------


def test_refuses_to_overwrite_without_force(
    server: FakeServer, pem_file: Path, tmp_path: Path
) -> None:
    server.on("POST", PATH, answer("HPKE"))
    out = tmp_path / "existing"
    out.write_bytes(b"keep me")
    out.chmod(0o644)
    args = ("orders", "--format", "HPKE", "--recipient", str(pem_file), "--out", str(out))
    refused = export(*args)
    assert_clean_exit(refused, 1)
    assert refused.stderr == f"Error: FileExists: {out} exists: give --force to overwrite it\n"
    assert out.read_bytes() == b"keep me"
    assert server.requests == []  # nothing exported (and audited) in vain

    forced = export(*args, "--force")
    assert_clean_exit(forced, 0)
    assert out.read_bytes() == WRAPPED
    assert mode(out) == 0o600


def test_refuses_a_symlink_in_the_way(server: FakeServer, pem_file: Path, tmp_path: Path) -> None:
    server.on("POST", PATH, answer("HPKE"))
    link = tmp_path / "link"
    link.symlink_to(tmp_path / "nowhere")
    result = export("orders", "--format", "HPKE", "--recipient", str(pem_file), "--out", str(link))
    assert_clean_exit(result, 1)
    assert not (tmp_path / "nowhere").exists()
    assert server.requests == []


def test_never_writes_to_stdout(server: FakeServer, pem_file: Path) -> None:
    server.on("POST", PATH, answer("HPKE"))
    result = export("orders", "--format", "HPKE", "--recipient", str(pem_file), "--out", "-")
    assert_clean_exit(result, 2)
    assert "never to the terminal" in result.output
    assert server.requests == []


@pytest.mark.usefixtures("server")
def test_out_is_required(pem_file: Path) -> None:
    assert_clean_exit(export("orders", "--format", "HPKE", "--recipient", str(pem_file)), 2)


# --- the recipient options ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("form", "recipient", "message"),
    [
        ("JWE", "--recipient", "JWE export takes the recipient as --jwk JWK_FILE"),
        ("JWE", None, "JWE export takes the recipient as --jwk JWK_FILE"),
        ("HPKE", "--jwk", "HPKE export takes the recipient as --recipient PEM_FILE"),
        ("RSA_AES_KEY_WRAP_SHA_256", "--jwk", "RSA_AES_KEY_WRAP_SHA_256 export takes"),
        ("HPKE", None, "HPKE export takes the recipient as --recipient PEM_FILE"),
        ("HPKE", "both", "not --jwk"),
    ],
)  # fmt: skip
def test_the_wrong_recipient_option_is_a_usage_error(  # noqa: PLR0917 - fixtures and the parametrized columns
    server: FakeServer,
    pem_file: Path,
    jwk_file: Path,
    tmp_path: Path,
    form: str,
    recipient: str | None,
    message: str,
) -> None:
    out = tmp_path / "out"
    options = {
        "--recipient": ["--recipient", str(pem_file)],
        "--jwk": ["--jwk", str(jwk_file)],
        "both": ["--recipient", str(pem_file), "--jwk", str(jwk_file)],
        None: [],
    }[recipient]
    result = export("orders", "--format", form, *options, "--out", str(out))
    assert_clean_exit(result, 2)
    assert message in " ".join(result.output.replace("│", " ").split())
    assert server.requests == []
    assert not out.exists()


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('{"kty": "OKP", "crv": "X25519", "x": "AQ", "d": "c2VjcmV0"}', "is a private JWK"),
        ("[1, 2]", "is not a JWK"),
        ('{"kty": "RSA", "key_ops": ["wrapKey"]}', "is not a JWK"),
        ("not json", "is not a JWK"),
    ],
)
def test_a_bad_jwk_is_a_usage_error(
    server: FakeServer, tmp_path: Path, content: str, message: str
) -> None:
    jwk = tmp_path / "bad.jwk"
    jwk.write_text(content)
    result = export("orders", "--format", "JWE", "--jwk", str(jwk), "--out", str(tmp_path / "o"))
    assert_clean_exit(result, 2)
    assert message in result.output
    assert "c2VjcmV0" not in result.output
    assert server.requests == []


def test_a_binary_recipient_is_a_usage_error(server: FakeServer, tmp_path: Path) -> None:
    der = tmp_path / "recipient.der"
    der.write_bytes(b"\x30\x82\x01\x22\xff\xfe")
    out = str(tmp_path / "o")
    result = export("orders", "--format", "HPKE", "--recipient", str(der), "--out", out)
    assert_clean_exit(result, 2)
    assert "is not a PEM file" in result.output
    assert server.requests == []


@pytest.mark.usefixtures("server")
def test_a_missing_recipient_file_exits_1(tmp_path: Path) -> None:
    missing, out = tmp_path / "missing.pem", tmp_path / "o"
    result = export("orders", "--format", "HPKE", "--recipient", str(missing), "--out", str(out))
    assert_clean_exit(result, 1)
    assert result.stderr.startswith(f"Error: FileError: cannot read {missing}")


@pytest.mark.usefixtures("server")
def test_an_unknown_format_is_a_usage_error(pem_file: Path, tmp_path: Path) -> None:
    out = str(tmp_path / "o")
    result = export("orders", "--format", "AES_KW", "--recipient", str(pem_file), "--out", out)
    assert_clean_exit(result, 2)


# --- server errors -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "exit_code"),
    [
        (403, "KeyNotExportable", 4),
        (403, "PermissionDenied", 4),
        (400, "InvalidPublicKey", 3),
        (400, "ValidationFailed", 3),
        (404, "KeyNotFound", 5),
        (404, "KeyVersionNotFound", 5),
        (409, "KeyStateForbidsOperation", 6),
        (409, "KeyDestroyed", 6),
    ],
)
def test_server_errors_print_one_line_and_exit_with_the_family_code(  # noqa: PLR0917 - the parametrized columns
    server: FakeServer, pem_file: Path, tmp_path: Path, status: int, code: str, exit_code: int
) -> None:
    server.on("POST", PATH, lambda _: problem(status, code, "the key says no"))
    out = tmp_path / "out"
    result = export("orders", "--format", "HPKE", "--recipient", str(pem_file), "--out", str(out))
    assert_clean_exit(result, exit_code)
    assert result.stderr == f"Error: {code}: the key says no [request_id=req-5]\n"
    assert result.stdout == ""
    assert not out.exists()


def test_an_answer_without_material_writes_nothing(
    server: FakeServer, pem_file: Path, tmp_path: Path
) -> None:
    server.on("POST", PATH, lambda _: httpx.Response(200, json=answer("HPKE", wrapped_key=None)))
    out = tmp_path / "out"
    result = export("orders", "--format", "HPKE", "--recipient", str(pem_file), "--out", str(out))
    assert_clean_exit(result, 1)
    assert result.stderr.startswith("Error: InvalidResponse: ")
    assert not out.exists()
