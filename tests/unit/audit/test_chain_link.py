"""A linked record's body is the event's canonical JSON, whatever its fields hold."""

from __future__ import annotations

import json

from hypothesis import given
from hypothesis import strategies as st

from keystead.audit import chain
from keystead.crypto.hashing import chain_hash
from keystead.domain.audit import AuditEvent, Outcome, canonical, event_fields
from keystead.storage.audit_repository import GENESIS_HASH

# Text a caller controls ends up in some fields (names, paths): quotes, backslashes, the
# very key the seq goes before, control characters and non-ASCII among them.
_TRICKY = st.text(
    alphabet=st.sampled_from('ab"\\,:{}\n\x00é😀') | st.characters(exclude_categories=("Cs",)),
    max_size=30,
)
_NAMES = st.one_of(_TRICKY, st.just('","source":"x'), st.just(',"source":'))


def _event(text: str, optional: str | None, number: int, latency: float) -> AuditEvent:
    return AuditEvent(
        time="2026-12-01T20:00:00.123456+00:00", request_id=text, principal=text,
        principal_kind="user", token_id=text, source=text, method="POST", route=text,
        action="key.encrypt", key=optional, key_id=optional, version=number,
        outcome=Outcome.FAILED, status=400, code=optional, latency_ms=latency,
        context_hmac=optional,
    )  # fmt: skip


@given(
    text=_NAMES,
    optional=st.none() | _NAMES,
    number=st.none() | st.integers(min_value=0, max_value=2**53),
    latency=st.floats(min_value=0, max_value=1e9, allow_nan=False),
    seq=st.integers(min_value=0, max_value=2**62),
)
def test_the_body_is_the_canonical_json_of_the_event_and_its_seq(
    text: str, optional: str | None, number: int | None, latency: float, seq: int
) -> None:
    # The router rounds latency to the microsecond (3 decimals of a millisecond).
    event = _event(text, optional, number or 0, round(latency, 3))
    (record,) = chain.link((seq, GENESIS_HASH), [event])
    assert record.body.encode() == canonical(event_fields(event, seq + 1))
    assert record.seq == seq + 1


@given(latency=st.floats(min_value=0, allow_nan=False, allow_infinity=False))
def test_any_latency_still_reads_back_as_the_same_fields(latency: float) -> None:
    event = _event("a", None, 1, latency)
    (record,) = chain.link((0, GENESIS_HASH), [event])
    assert json.loads(record.body) == event_fields(event, 1)


def test_records_are_chained_from_the_head() -> None:
    head_hash = bytes(range(32))
    events = [_event(name, None, 1, 0.5) for name in ("a", "b", "c")]
    records = chain.link((41, head_hash), events)
    assert [r.seq for r in records] == [42, 43, 44]
    previous = head_hash
    for record in records:
        assert record.prev_hash == previous
        assert record.entry_hash == chain_hash(previous, record.body.encode())
        previous = record.entry_hash


def test_a_lone_surrogate_is_recorded_as_a_replacement_character() -> None:
    """Not UTF-8, so not JSON text: the record keeps U+FFFD in its place, and still links."""
    event = _event("name\ud800", "key\udfff", 1, 0.5)
    (record,) = chain.link((0, GENESIS_HASH), [event])
    fields = json.loads(record.body)
    assert (fields["principal"], fields["key"], fields["seq"]) == ("name\ufffd", "key\ufffd", 1)
