"""``keystead audit`` through CliRunner, with the SDK client on an httpx.MockTransport.

``list`` (filters, pages, table, JSON), ``verify`` online and ``--offline`` (a small export
built and signed here: valid, edited, cut short, wrong key; no server or token touched),
``export`` (streamed to a 0600 file) and ``public-key``; the exit codes, 10 for a log that
does not verify.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
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
from keystead.audit import chain, checkpoints
from keystead.audit.export import checkpoint_line, record_line
from keystead.cli import client as cli_client
from keystead.crypto import asymmetric, keygen
from keystead.domain.audit import AuditEvent, Outcome
from keystead.storage.audit_repository import GENESIS_HASH
from keystead_sdk import Client

TOKEN = "kst_audit-cli-token-never-print"
NDJSON = "application/x-ndjson"
KEY_ID = "0f8fad5b-d9cb-469f-a165-70867728950e"
PEM = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEA\n-----END PUBLIC KEY-----\n"
AUDIT_INVALID = 10

CLI = CliHarness(TOKEN)
server = CLI.server_fixture()
assert_clean_exit = CLI.assert_clean_exit


def record(seq: int, **changes: object) -> dict[str, object]:
    fields: dict[str, object] = {
        "seq": seq, "time": f"2026-11-28T12:00:0{seq % 10}+00:00", "request_id": f"req-{seq}",
        "principal": "alice", "principal_kind": "user", "token_id": "tok_1",
        "source": "203.0.113.9", "method": "POST", "route": "/v1/keys/{key}/decrypt",
        "action": "keys.decrypt", "key": "orders", "key_id": KEY_ID, "version": 1,
        "outcome": "allowed", "status": 200, "code": None, "latency_ms": 0.5,
    }  # fmt: skip
    return {**fields, **changes}


def entry(seq: int, **changes: object) -> dict[str, object]:
    return {"seq": seq, "record": record(seq, **changes), "prev_hash": "00" * 32,
            "entry_hash": f"{seq:02x}" * 32}  # fmt: skip


@pytest.fixture
def no_server(monkeypatch: pytest.MonkeyPatch) -> None:
    """Fail the test if the command builds a client at all (no server, no token)."""

    def make_client(token: str | None = None, *, use_saved: bool = True) -> Client:
        raise AssertionError((token, use_saved))

    monkeypatch.setattr(cli_client, "make_client", make_client)


# --- list --------------------------------------------------------------------------------------


def test_list_prints_a_table(server: FakeServer) -> None:
    refused = entry(2, principal="bob", outcome="refused", status=403, code="PermissionDenied",
                    key=None, key_id=KEY_ID)  # fmt: skip
    server.on("GET", "/v1/audit", {"records": [entry(1), refused], "next_cursor": None})
    result = run("audit", "list")
    assert_clean_exit(result, 0)
    assert server.params() == {"limit": "100"}
    assert server.requests[0].headers["authorization"] == f"Bearer {TOKEN}"
    lines = table_lines(result.stdout, drop_inner=True)
    assert "Seq Time Principal Action Key Outcome Status Code" in lines
    assert "1 2026-11-28 12:00:01Z alice keys.decrypt orders allowed 200 -" in lines
    assert f"2 2026-11-28 12:00:02Z bob keys.decrypt {KEY_ID} refused 403 PermissionDenied" in lines
    assert result.stderr == ""


def test_list_sends_every_filter(server: FakeServer) -> None:
    server.on("GET", "/v1/audit", {"records": [], "next_cursor": None})
    result = run("audit", "list", "--since", "2026-11-28T10:00:00+02:00", "--until",
                 "2026-11-29", "--principal", "alice", "--key-id", KEY_ID, "--action",
                 "keys.decrypt", "--outcome", "failed", "--limit", "5",
                 "--cursor", "40")  # fmt: skip
    assert_clean_exit(result, 0)
    assert server.params() == {
        "limit": "5", "cursor": "40", "since": "2026-11-28T10:00:00+02:00",
        "until": "2026-11-29T00:00:00+00:00", "principal": "alice", "key_id": KEY_ID,
        "action": "keys.decrypt", "outcome": "failed",
    }  # fmt: skip


@pytest.mark.parametrize(
    "args",
    [("--outcome", "maybe"), ("--limit", "0"), ("--limit", "1001"), ("--since", "yesterday")],
)
def test_list_refuses_bad_options_before_sending(server: FakeServer, args: tuple[str, str]) -> None:
    result = run("audit", "list", *args)
    assert_clean_exit(result, 2)
    assert server.requests == []


def test_list_warns_of_more_pages(server: FakeServer) -> None:
    server.on("GET", "/v1/audit", {"records": [entry(1)], "next_cursor": "1"})
    result = run("audit", "list", "--limit", "1")
    assert_clean_exit(result, 0)
    assert "more records: run again with --cursor 1, or with --all" in result.stderr


def test_list_all_follows_every_page_and_prints_json(server: FakeServer) -> None:
    def pages(request: httpx.Request) -> httpx.Response:
        cursor = int(request.url.params.get("cursor", "0"))
        last = cursor == 2  # the third page is the last
        next_cursor = None if last else str(cursor + 1)
        return httpx.Response(
            200, json={"records": [entry(cursor + 1)], "next_cursor": next_cursor}
        )

    server.on("GET", "/v1/audit", pages)
    result = run("audit", "list", "--all", "--limit", "1", "--principal", "alice",
                 "--format", "json")  # fmt: skip
    assert_clean_exit(result, 0)
    assert [server.params(n) for n in range(3)] == [
        {"limit": "1", "principal": "alice"},
        {"limit": "1", "principal": "alice", "cursor": "1"},
        {"limit": "1", "principal": "alice", "cursor": "2"},
    ]
    body = json.loads(result.stdout)
    assert [item["seq"] for item in body["records"]] == [1, 2, 3]
    assert body["records"][0]["record"]["key_id"] == KEY_ID
    assert body["next_cursor"] is None


@pytest.mark.parametrize(
    ("status", "code", "exit_code"),
    [(503, "AuditWriteFailed", 1), (403, "PermissionDenied", 4), (503, "Sealed", 7)],
)
def test_list_errors(server: FakeServer, status: int, code: str, exit_code: int) -> None:
    server.on("GET", "/v1/audit", lambda _: problem(status, code))
    result = run("audit", "list")
    assert_clean_exit(result, exit_code)
    assert result.stderr.strip() == f"Error: {code}: the detail [request_id=req-5]"


# --- verify (online) ---------------------------------------------------------------------------


def test_verify_online_valid(server: FakeServer) -> None:
    server.on("GET", "/v1/audit/verify", {"valid": True, "records": 12, "first_bad": None,
                                          "reason": None})  # fmt: skip
    result = run("audit", "verify")
    assert_clean_exit(result, 0)
    assert result.stdout == "valid: 12 records\n"


def test_verify_online_invalid_names_the_record(server: FakeServer) -> None:
    reason = "its hash does not match its contents: the record was edited"
    server.on("GET", "/v1/audit/verify", {"valid": False, "records": 2, "first_bad": 3,
                                          "reason": reason})  # fmt: skip
    result = run("audit", "verify")
    assert_clean_exit(result, AUDIT_INVALID)
    assert result.stdout.splitlines() == [
        "invalid: record 3 is the first bad one (2 records before it verified)",
        f"reason: {reason}",
    ]


def test_verify_online_json_keeps_the_exit_code(server: FakeServer) -> None:
    verdict = {"valid": False, "records": 0, "first_bad": 1, "reason": "r"}
    server.on("GET", "/v1/audit/verify", verdict)
    result = run("audit", "verify", "--format", "json")
    assert_clean_exit(result, AUDIT_INVALID)
    assert json.loads(result.stdout) == verdict


def test_verify_online_error(server: FakeServer) -> None:
    server.on("GET", "/v1/audit/verify", lambda _: problem(403, "PermissionDenied"))
    assert_clean_exit(run("audit", "verify"), 4)


@pytest.mark.usefixtures("no_server")
@pytest.mark.parametrize("args", [("--offline", "x.ndjson"), ("--public-key", "k.pem")])
def test_offline_and_public_key_go_together(args: tuple[str, str]) -> None:
    result = run("audit", "verify", *args)
    assert_clean_exit(result, 2)
    assert "go together" in result.output


# --- verify --offline --------------------------------------------------------------------------


@dataclass
class ExportFile:
    path: Path
    public_key: Path
    lines: list[str]

    def write(self, lines: list[str]) -> None:
        self.path.write_text("".join(lines), encoding="utf-8")


def _event(n: int) -> AuditEvent:
    return AuditEvent(
        time=f"2026-11-28T12:00:0{n}.000000+00:00", request_id=f"req-{n}", principal="alice",
        principal_kind="user", token_id="tok_1", source="203.0.113.9", method="POST",
        route="/v1/keys/{key}/encrypt", action="keys.encrypt", key="orders", key_id=KEY_ID,
        version=1, outcome=Outcome.ALLOWED, status=200, code=None, latency_ms=0.5,
    )  # fmt: skip


@pytest.fixture
def export_file(tmp_path: Path) -> ExportFile:
    """Four records, a checkpoint after the second, and the signed head: a valid export."""
    generated = keygen.generate("ED25519")
    assert generated.public_key is not None
    records = chain.link((0, GENESIS_HASH), [_event(n) for n in range(1, 5)])
    lines = []
    for item in records:
        lines.append(record_line(item))
        if item.seq == 2:  # a checkpoint inside the file
            signed = checkpoints.sign(generated.material, item.seq, item.entry_hash, item.time)
            lines.append(checkpoint_line(signed))
    last = records[-1]
    head = checkpoints.sign(generated.material, last.seq, last.entry_hash, "2026-11-28T13:00:00Z")
    lines.append(checkpoint_line(head, "head"))
    public_key = tmp_path / "audit.pem"
    public_key.write_text(asymmetric.der_to_pem(generated.public_key))
    made = ExportFile(tmp_path / "audit.ndjson", public_key, lines)
    made.write(lines)
    return made


def verify_offline(made: ExportFile, *extra: str) -> Result:
    return run("audit", "verify", "--offline", str(made.path), "--public-key",
               str(made.public_key), *extra)  # fmt: skip


@pytest.mark.usefixtures("no_server")
def test_offline_verify_of_a_valid_export(export_file: ExportFile) -> None:
    result = verify_offline(export_file)
    assert_clean_exit(result, 0)
    assert result.stdout == "valid: 4 records\n"


@pytest.mark.usefixtures("no_server")
def test_offline_verify_names_an_edited_record(export_file: ExportFile) -> None:
    lines = list(export_file.lines)
    item = json.loads(lines[3])  # the third record (after the checkpoint line)
    assert (item["type"], item["seq"]) == ("record", 3)
    body = json.loads(item["body"])
    body["principal"] = "mallory"
    item["body"] = json.dumps(body, sort_keys=True, separators=(",", ":"))
    lines[3] = json.dumps(item) + "\n"
    export_file.write(lines)
    result = verify_offline(export_file)
    assert_clean_exit(result, AUDIT_INVALID)
    first, reason = result.stdout.splitlines()
    assert first == "invalid: record 3 is the first bad one (2 records before it verified)"
    assert reason == "reason: its hash does not match its contents: the record was edited"


@pytest.mark.usefixtures("no_server")
def test_offline_verify_detects_a_file_cut_short(export_file: ExportFile) -> None:
    lines = list(export_file.lines)
    assert json.loads(lines[-2])["seq"] == 4  # the last record, before the head
    export_file.write(lines[:-2] + lines[-1:])
    result = verify_offline(export_file, "--format", "json")
    assert_clean_exit(result, AUDIT_INVALID)
    verdict = json.loads(result.stdout)
    assert verdict["valid"] is False
    assert verdict["first_bad"] == 4
    assert "missing" in verdict["reason"]


@pytest.mark.usefixtures("no_server")
def test_offline_verify_detects_a_missing_head(export_file: ExportFile) -> None:
    export_file.write(export_file.lines[:-1])
    result = verify_offline(export_file)
    assert_clean_exit(result, AUDIT_INVALID)
    assert "invalid: record 5 is the first bad one" in result.stdout
    assert "cut short or forged" in result.stdout


@pytest.mark.usefixtures("no_server")
def test_offline_verify_with_another_key_fails(export_file: ExportFile) -> None:
    other = keygen.generate("ED25519").public_key
    assert other is not None
    export_file.public_key.write_text(asymmetric.der_to_pem(other))
    result = verify_offline(export_file)
    assert_clean_exit(result, AUDIT_INVALID)
    assert "not signed by the audit key" in result.stdout or "forged" in result.stdout


@pytest.mark.usefixtures("no_server")
def test_offline_verify_reads_stdin(export_file: ExportFile) -> None:
    result = run("audit", "verify", "--offline", "-", "--public-key",
                 str(export_file.public_key), stdin="".join(export_file.lines))  # fmt: skip
    assert_clean_exit(result, 0)
    assert result.stdout == "valid: 4 records\n"


@pytest.mark.usefixtures("no_server")
def test_offline_verify_of_a_file_that_is_not_an_export(export_file: ExportFile) -> None:
    export_file.path.write_bytes(b"\xff\xfe not utf-8\n")
    result = verify_offline(export_file)
    assert_clean_exit(result, AUDIT_INVALID)
    assert result.stdout.splitlines() == [
        "invalid",
        "reason: the file is not UTF-8 text: it is not a Keystead audit export",
    ]
    export_file.path.write_text("hello\n")
    result = verify_offline(export_file)
    assert_clean_exit(result, AUDIT_INVALID)
    assert "line 1: not a line of a Keystead audit export" in result.stdout


@pytest.mark.usefixtures("no_server")
def test_offline_verify_refuses_a_bad_public_key_file(export_file: ExportFile) -> None:
    export_file.public_key.write_text(PEM.replace("MCowBQYDK2VwAyEA", "bm90IGEga2V5"))
    result = verify_offline(export_file)
    assert_clean_exit(result, 3)
    assert "Error: InvalidPublicKey:" in result.stderr


@pytest.mark.usefixtures("no_server")
def test_offline_verify_of_a_missing_file(export_file: ExportFile, tmp_path: Path) -> None:
    export_file.path = tmp_path / "absent.ndjson"
    result = verify_offline(export_file)
    assert_clean_exit(result, 1)
    assert result.stderr.startswith(f"Error: FileError: cannot read {export_file.path}")


# --- export and public-key ---------------------------------------------------------------------

EXPORT_LINES = [b'{"seq":1,"type":"record"}\n', b'{"seq":2,"type":"record"}\n',
                b'{"seq":2,"type":"head"}\n']  # fmt: skip


def _streamed(_: httpx.Request) -> httpx.Response:
    return httpx.Response(200, headers={"content-type": NDJSON}, content=iter(EXPORT_LINES))


def test_export_streams_to_a_private_file(server: FakeServer, tmp_path: Path) -> None:
    server.on("GET", "/v1/audit/export", _streamed)
    out = tmp_path / "audit.ndjson"
    result = run("audit", "export", "--out", str(out))
    assert_clean_exit(result, 0)
    assert out.read_bytes() == b"".join(EXPORT_LINES)
    assert mode(out) == 0o600
    size = len(b"".join(EXPORT_LINES))
    assert result.stdout == f"Exported 3 lines ({size} bytes) to {out}.\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["audit.ndjson", "home"]
    assert result.stderr == ""


def test_export_to_stdout(server: FakeServer) -> None:
    server.on("GET", "/v1/audit/export", _streamed)
    result = run("audit", "export", "--out", "-")
    assert_clean_exit(result, 0)
    assert result.stdout_bytes == b"".join(EXPORT_LINES)
    assert "Exported 3 lines" in result.stderr


def test_export_needs_out(server: FakeServer) -> None:
    assert_clean_exit(run("audit", "export"), 2)
    assert server.requests == []


def test_export_error_writes_nothing(server: FakeServer, tmp_path: Path) -> None:
    server.on("GET", "/v1/audit/export", lambda _: problem(503, "Sealed", "sealed"))
    out = tmp_path / "audit.ndjson"
    result = run("audit", "export", "--out", str(out))
    assert_clean_exit(result, 7)
    assert result.stderr.strip() == "Error: Sealed: sealed [request_id=req-5]"
    assert not out.exists()


def test_export_to_an_unwritable_place(server: FakeServer, tmp_path: Path) -> None:
    server.on("GET", "/v1/audit/export", _streamed)
    out = tmp_path / "missing" / "audit.ndjson"
    result = run("audit", "export", "--out", str(out))
    assert_clean_exit(result, 1)
    assert result.stderr.startswith(f"Error: FileError: cannot write {out}")


def test_public_key_prints_the_pem(server: FakeServer, tmp_path: Path) -> None:
    server.on("GET", "/v1/audit/public-key", {"public_key": PEM, "algorithm": "ED25519"})
    result = run("audit", "public-key")
    assert_clean_exit(result, 0)
    assert result.stdout == PEM
    out = tmp_path / "audit.pem"
    assert_clean_exit(run("audit", "public-key", "--out", str(out)), 0)
    assert out.read_text() == PEM
    result = run("audit", "public-key", "--format", "json")
    assert json.loads(result.stdout) == {"public_key": PEM, "algorithm": "ED25519"}


def test_export_shows_progress_on_a_terminal(
    server: FakeServer, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("FORCE_COLOR", "1")  # Rich takes stderr for a terminal
    server.on("GET", "/v1/audit/export", _streamed)
    out = tmp_path / "audit.ndjson"
    result = run("audit", "export", "--out", str(out))
    assert_clean_exit(result, 0)
    assert "Exporting the audit log" in result.stderr
    assert out.read_bytes() == b"".join(EXPORT_LINES)
    assert result.stdout.endswith(f"to {out}.\n")
