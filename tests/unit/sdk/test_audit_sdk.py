"""``client.audit`` against canned answers (MockTransport), sync and async.

The JSON methods through the shared case table: request (path, query, token) and parsed
answer. The export: streamed chunk by chunk to a writer or a path (mode 0600, put in place
only when complete), its line and byte counts, and what happens when it fails midway or is
not JSON Lines. ``AuditWriteFailed`` (503) maps to its own ``ServerError`` subclass.
"""

from __future__ import annotations

import io
import stat
from collections.abc import AsyncIterator, Callable, Iterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import httpx
import pytest

import keystead_sdk
from keystead_sdk import (
    AsyncAuditAPI,
    AsyncClient,
    AuditAPI,
    AuditEntry,
    AuditExport,
    AuditPage,
    AuditPublicKey,
    AuditRecord,
    AuditVerification,
    AuditWriteFailed,
    Client,
    PermissionDenied,
    Sealed,
    ServerError,
    TransportError,
    ValidationFailed,
)
from sdk_harness import (
    ADDRESS,
    Case,
    Harness,
    Server,
    anyio_backend,  # noqa: F401  (a fixture: pytest finds it by name)
    assert_async_mirrors_sync,
    clean_env,  # noqa: F401  (an autouse fixture)
    problem,
    public_methods,
)

TOKEN = "kst_audit-sdk-auditor-token"
NDJSON = "application/x-ndjson"
PEM = "-----BEGIN PUBLIC KEY-----\nMCowBQYDK2VwAyEAAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE=\n-----END PUBLIC KEY-----\n"  # noqa: E501
KEY_ID = "0f8fad5b-d9cb-469f-a165-70867728950e"

RECORD = {
    "seq": 7,
    "time": "2026-11-28T12:00:00.123456+00:00",
    "request_id": "req-7",
    "principal": "alice",
    "principal_kind": "user",
    "token_id": "tok_1",
    "source": "203.0.113.9",
    "method": "POST",
    "route": "/v1/keys/{key}/encrypt",
    "action": "keys.encrypt",
    "key": "orders",
    "key_id": KEY_ID,
    "version": 2,
    "outcome": "allowed",
    "status": 200,
    "code": None,
    "latency_ms": 1.25,
}
ENTRY = {"seq": 7, "record": RECORD, "prev_hash": "ab" * 32, "entry_hash": "cd" * 32}
VALID = {"valid": True, "records": 7, "first_bad": None, "reason": None}
BROKEN = {"valid": False, "records": 2, "first_bad": 3,
          "reason": "its hash does not match its contents: the record was edited"}  # fmt: skip
LINES = [
    b'{"body":"{}","entry_hash":"aa","prev_hash":"00","seq":1,"type":"record"}\n',
    b'{"body":"{}","entry_hash":"bb","prev_hash":"aa","seq":2,"type":"record"}\n',
    b'{"entry_hash":"bb","seq":2,"signature":"c2ln","time":"t","type":"head"}\n',
]
EXPORT = b"".join(LINES)

HARNESS = Harness(token=TOKEN)
sync_client, async_client = HARNESS.sync_client, HARNESS.async_client


def _page(result: AuditPage) -> None:
    assert result.next_cursor == "7"
    [entry] = result.records
    assert isinstance(entry, AuditEntry)
    assert (entry.seq, entry.prev_hash, entry.entry_hash) == (7, "ab" * 32, "cd" * 32)
    record = entry.record
    assert isinstance(record, AuditRecord)
    assert record.time == datetime(2026, 11, 28, 12, 0, 0, 123456, tzinfo=UTC)
    assert (record.principal, record.action, record.key, record.key_id) == (
        "alice", "keys.encrypt", "orders", KEY_ID,
    )  # fmt: skip
    assert (record.version, record.outcome, record.status, record.code) == (2, "allowed", 200, None)
    assert record.latency_ms == 1.25
    assert record.context_hmac is None


def _last_page(result: AuditPage) -> None:
    assert result.records == []
    assert result.next_cursor is None


def _valid(result: AuditVerification) -> None:
    assert result == AuditVerification(valid=True, records=7)


def _broken(result: AuditVerification) -> None:
    assert (result.valid, result.records, result.first_bad) == (False, 2, 3)
    assert result.reason is not None
    assert "edited" in result.reason


def _public_key(result: AuditPublicKey) -> None:
    assert result.public_key == PEM
    assert result.algorithm == "ED25519"


SINCE = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
UNTIL = datetime(2026, 11, 28, 14, 30, tzinfo=timezone(timedelta(hours=2)))
CASES = [
    Case("audit.list", (), {}, "GET", "/v1/audit", None,
         {"records": [ENTRY], "next_cursor": "7"}, _page, query={"limit": "100"}),
    Case("audit.list", (50, "7"), {}, "GET", "/v1/audit", None,
         {"records": [], "next_cursor": None}, _last_page, query={"limit": "50", "cursor": "7"}),
    Case("audit.list", (), {"since": SINCE, "until": UNTIL, "principal": "alice",
                            "key_id": KEY_ID, "action": "keys.decrypt", "outcome": "refused"},
         "GET", "/v1/audit", None, {"records": [ENTRY], "next_cursor": "7"}, _page,
         query={"limit": "100", "since": "2026-11-28T12:00:00+00:00",
                "until": "2026-11-28T14:30:00+02:00", "principal": "alice", "key_id": KEY_ID,
                "action": "keys.decrypt", "outcome": "refused"}),
    Case("audit.verify", (), {}, "GET", "/v1/audit/verify", None, VALID, _valid),
    Case("audit.verify", (), {}, "GET", "/v1/audit/verify", None, BROKEN, _broken),
    Case("audit.public_key", (), {}, "GET", "/v1/audit/public-key", None,
         {"public_key": PEM, "algorithm": "ED25519"}, _public_key),
]  # fmt: skip
test_sync_method, test_async_method = HARNESS.method_tests(CASES)

API_CLASSES = [("audit", AuditAPI, AsyncAuditAPI)]


def test_every_public_method_is_covered() -> None:
    # export streams JSON Lines rather than answering JSON: its own tests are below.
    covered = {case.method for case in CASES} | {"audit.export"}
    for cls in (AuditAPI, AsyncAuditAPI):
        names = {f"audit.{name}" for name in public_methods(cls)}
        assert names <= covered, names - covered
    assert "audit.export" in {f"audit.{name}" for name in public_methods(AuditAPI)}


def test_async_methods_mirror_sync_signatures() -> None:
    assert_async_mirrors_sync(API_CLASSES)


def test_clients_have_the_audit_namespace() -> None:
    with sync_client(Server()) as client:
        assert type(client.audit) is AuditAPI
    assert type(async_client(Server()).audit) is AsyncAuditAPI


def test_public_names() -> None:
    names = {"AuditAPI", "AsyncAuditAPI", "AuditEntry", "AuditExport", "AuditPage",
             "AuditPublicKey", "AuditRecord", "AuditVerification", "AuditWriteFailed"}  # fmt: skip
    assert names <= set(keystead_sdk.__all__)
    assert AuditWriteFailed.__module__ == "keystead_sdk"


def test_naive_datetime_is_refused_before_sending() -> None:
    server = Server()
    with sync_client(server) as client, pytest.raises(ValueError, match="timezone-aware"):
        client.audit.list(since=datetime(2026, 1, 1))  # noqa: DTZ001 - the point of the test
    assert server.requests == []


def test_records_keep_a_context_hmac_and_ignore_new_fields() -> None:
    body = {"records": [{**ENTRY, "record": {**RECORD, "context_hmac": "ef" * 32, "new": 1}}],
            "next_cursor": None}  # fmt: skip
    with sync_client(Server(body=body)) as client:
        [entry] = client.audit.list().records
    assert entry.record.context_hmac == "ef" * 32


@pytest.mark.parametrize(
    ("call", "body"),
    [
        (lambda c: c.audit.list(), {"records": [{**ENTRY, "record": "x"}], "next_cursor": None}),
        (lambda c: c.audit.list(), {"records": {}, "next_cursor": None}),
        (lambda c: c.audit.verify(), {"valid": "maybe", "records": 1}),
        (lambda c: c.audit.public_key(), {"algorithm": "ED25519"}),
    ],
)
def test_unexpected_answer_shapes_are_server_errors(
    call: Callable[[Client], object], body: object
) -> None:
    with sync_client(Server(body=body)) as client, pytest.raises(ServerError) as caught:
        call(client)
    assert caught.value.code == "InvalidResponse"


# --- errors ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("status", "code", "cls"),
    [
        (503, "AuditWriteFailed", AuditWriteFailed),
        (503, "Sealed", Sealed),
        (403, "PermissionDenied", PermissionDenied),
        (400, "ValidationFailed", ValidationFailed),
        (503, "SomeFutureOutage", ServerError),
    ],
)
def test_audit_errors_map_to_exceptions(status: int, code: str, cls: type[Exception]) -> None:
    with sync_client(problem(status, code)) as client, pytest.raises(cls) as caught:
        client.audit.list()
    assert type(caught.value) is cls


def test_audit_write_failed_is_a_server_error_from_any_endpoint() -> None:
    detail = "the audit log cannot be written; the request was refused"
    server = problem(503, "AuditWriteFailed", detail)
    with sync_client(server) as client, pytest.raises(ServerError) as caught:
        client.keys.encrypt("orders", b"secret")
    error = caught.value
    assert type(error) is AuditWriteFailed
    assert not isinstance(error, Sealed)
    assert (error.status, error.code, error.detail) == (503, "AuditWriteFailed", detail)
    assert str(error) == f"AuditWriteFailed (503): {detail} [request_id=req-1]"


@pytest.mark.anyio
async def test_async_audit_write_failed() -> None:
    async with async_client(problem(503, "AuditWriteFailed")) as client:
        with pytest.raises(AuditWriteFailed):
            await client.audit.verify()


# --- export ----------------------------------------------------------------------------------


class Chunks(httpx.SyncByteStream, httpx.AsyncByteStream):
    """A body served chunk by chunk, counting how many chunks were taken so far."""

    def __init__(self, chunks: list[bytes], fail_after: int | None = None) -> None:
        self.chunks = chunks
        self.fail_after = fail_after
        self.served = 0

    def _next(self) -> Iterator[bytes]:
        for chunk in self.chunks:
            if self.fail_after is not None and self.served == self.fail_after:
                msg = "connection reset"
                raise httpx.ReadError(msg)
            self.served += 1
            yield chunk

    def __iter__(self) -> Iterator[bytes]:
        yield from self._next()

    async def __aiter__(self) -> AsyncIterator[bytes]:
        for chunk in self._next():
            yield chunk


class Exporter:
    """A server whose /v1/audit/export streams ``Chunks``; records the requests."""

    def __init__(self, stream: Chunks, content_type: str = f"{NDJSON}; charset=utf-8") -> None:
        self.stream = stream
        self.content_type = content_type
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        headers = {"content-type": self.content_type, "x-request-id": "req-x"}
        return httpx.Response(200, headers=headers, stream=self.stream)

    def sync_client(self) -> Client:
        return Client(ADDRESS, token=TOKEN, transport=httpx.MockTransport(self))

    def async_client(self) -> AsyncClient:
        return AsyncClient(ADDRESS, token=TOKEN, transport=httpx.MockTransport(self))


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def leftovers(directory: Path) -> list[str]:
    return sorted(p.name for p in directory.iterdir() if p.name.endswith(".partial"))


def test_export_streams_chunk_by_chunk_to_a_writer() -> None:
    stream = Chunks(LINES)
    exporter = Exporter(stream)
    seen: list[tuple[int, int]] = []
    out = io.BytesIO()
    with exporter.sync_client() as client:
        done = client.audit.export(out, progress=lambda size: seen.append((size, stream.served)))
    assert done == AuditExport(lines=3, bytes_written=len(EXPORT))
    assert out.getvalue() == EXPORT
    # Each chunk was written and reported before the next one was taken from the server.
    sizes = [len(b"".join(LINES[: n + 1])) for n in range(len(LINES))]
    assert seen == [(size, n + 1) for n, size in enumerate(sizes)]
    [request] = exporter.requests
    assert (request.method, request.url.path) == ("GET", "/v1/audit/export")
    assert request.headers["authorization"] == f"Bearer {TOKEN}"


def test_export_to_a_path_is_private_and_replaces_only_when_complete(tmp_path: Path) -> None:
    target = tmp_path / "audit.ndjson"
    target.write_bytes(b"old export\n")
    target.chmod(0o644)
    with Exporter(Chunks(LINES)).sync_client() as client:
        done = client.audit.export(target)
    assert target.read_bytes() == EXPORT
    assert mode(target) == 0o600
    assert (done.lines, done.bytes_written) == (3, len(EXPORT))
    assert leftovers(tmp_path) == []


def test_export_to_a_str_path(tmp_path: Path) -> None:
    target = tmp_path / "new.ndjson"
    with Exporter(Chunks(LINES)).sync_client() as client:
        client.audit.export(str(target))
    assert target.read_bytes() == EXPORT
    assert mode(target) == 0o600


def test_a_last_line_without_newline_still_counts() -> None:
    with Exporter(Chunks([b"one\ntw", b"o\nthree"])).sync_client() as client:
        done = client.audit.export(io.BytesIO())
    assert done == AuditExport(lines=3, bytes_written=13)


def test_an_empty_export_is_zero_lines() -> None:
    with Exporter(Chunks([])).sync_client() as client:
        assert client.audit.export(io.BytesIO()) == AuditExport(lines=0, bytes_written=0)


def test_a_failure_midway_leaves_the_old_file_and_no_partial_one(tmp_path: Path) -> None:
    target = tmp_path / "audit.ndjson"
    target.write_bytes(b"old export\n")
    exporter = Exporter(Chunks(LINES, fail_after=2))
    with exporter.sync_client() as client, pytest.raises(TransportError, match="reset"):
        client.audit.export(target)
    assert target.read_bytes() == b"old export\n"
    assert leftovers(tmp_path) == []


def test_an_error_answer_creates_no_file(tmp_path: Path) -> None:
    target = tmp_path / "audit.ndjson"
    with sync_client(problem(503, "Sealed")) as client, pytest.raises(Sealed):
        client.audit.export(target)
    assert list(tmp_path.iterdir()) == []


def test_an_answer_that_is_not_json_lines_is_refused(tmp_path: Path) -> None:
    target = tmp_path / "audit.ndjson"
    exporter = Exporter(Chunks([b"<html>proxy</html>"]), content_type="text/html")
    with exporter.sync_client() as client, pytest.raises(ServerError) as caught:
        client.audit.export(target)
    assert caught.value.code == "InvalidResponse"
    assert caught.value.request_id == "req-x"
    assert "text/html" in caught.value.detail
    assert list(tmp_path.iterdir()) == []


def test_a_missing_directory_is_an_os_error(tmp_path: Path) -> None:
    with Exporter(Chunks(LINES)).sync_client() as client, pytest.raises(OSError):  # noqa: PT011
        client.audit.export(tmp_path / "missing" / "audit.ndjson")


@pytest.mark.anyio
async def test_async_export_streams_to_a_path(tmp_path: Path) -> None:
    stream = Chunks(LINES)
    exporter = Exporter(stream)
    target = tmp_path / "audit.ndjson"
    seen: list[int] = []
    async with exporter.async_client() as client:
        done = await client.audit.export(target, progress=lambda _: seen.append(stream.served))
    assert target.read_bytes() == EXPORT
    assert mode(target) == 0o600
    assert done == AuditExport(lines=3, bytes_written=len(EXPORT))
    assert seen == [1, 2, 3]
    assert exporter.requests[0].headers["authorization"] == f"Bearer {TOKEN}"


@pytest.mark.anyio
async def test_async_export_failure_midway(tmp_path: Path) -> None:
    target = tmp_path / "audit.ndjson"
    async with Exporter(Chunks(LINES, fail_after=1)).async_client() as client:
        with pytest.raises(TransportError):
            await client.audit.export(target)
    assert list(tmp_path.iterdir()) == []


@pytest.mark.anyio
async def test_async_export_error_answer() -> None:
    out = io.BytesIO()
    async with async_client(problem(503, "AuditWriteFailed")) as client:
        with pytest.raises(AuditWriteFailed):
            await client.audit.export(out)
    assert out.getvalue() == b""


def test_export_unreachable_server() -> None:
    def refuse(request: httpx.Request) -> httpx.Response:
        msg = "connection refused"
        raise httpx.ConnectError(msg, request=request)

    client = Client(ADDRESS, token=TOKEN, transport=httpx.MockTransport(refuse))
    with client, pytest.raises(TransportError, match=ADDRESS):
        client.audit.export(io.BytesIO())
