"""Properties of Shamir sharing: threshold recovery, secrecy below it, no silent bit flips."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from keystead.errors import InvalidUnsealShare
from keystead.seal.shamir import combine, split

SECRET_32 = st.binary(min_size=32, max_size=32)
ANY_SECRET = st.binary(min_size=1, max_size=64)


def _draw_split(data: st.DataObject, min_threshold: int = 1) -> tuple[int, int]:
    parts = data.draw(st.integers(min_threshold, 20), label="parts")
    threshold = data.draw(st.integers(min_threshold, parts), label="threshold")
    return parts, threshold


def _combine_or_none(shares: list[bytes]) -> bytes | None:
    try:
        return combine(shares)
    except InvalidUnsealShare:
        return None


def _flip(share: bytes, bit: int) -> bytes:
    flipped = bytearray(share)
    flipped[bit // 8] ^= 1 << (bit % 8)
    return bytes(flipped)


@settings(deadline=None, max_examples=60)
@given(secret=ANY_SECRET, data=st.data())
def test_shares_have_the_vault_layout(secret: bytes, data: st.DataObject) -> None:
    parts, threshold = _draw_split(data)
    shares = split(secret, parts, threshold)
    assert len(shares) == parts
    assert all(len(share) == len(secret) + 1 for share in shares)
    x_coordinates = [share[-1] for share in shares]
    assert 0 not in x_coordinates
    assert len(set(x_coordinates)) == parts


@settings(deadline=None, max_examples=100)
@given(secret=ANY_SECRET, data=st.data())
def test_any_threshold_or_more_shares_recover_the_secret(
    secret: bytes, data: st.DataObject
) -> None:
    parts, threshold = _draw_split(data)
    shares = split(secret, parts, threshold)
    count = data.draw(st.integers(threshold, parts), label="count")
    chosen = data.draw(st.permutations(shares), label="order")[:count]
    assert combine(chosen) == secret


@settings(deadline=None, max_examples=60)
@given(secret=SECRET_32, data=st.data())
def test_fewer_than_threshold_shares_do_not_recover_it(secret: bytes, data: st.DataObject) -> None:
    parts, threshold = _draw_split(data, min_threshold=2)
    shares = split(secret, parts, threshold)
    count = data.draw(st.integers(1, threshold - 1), label="count")
    chosen = data.draw(st.permutations(shares), label="order")[:count]
    assert combine(chosen) != secret  # fails by chance with probability 2^-256


@settings(deadline=None, max_examples=80)
@given(secret=SECRET_32, data=st.data())
def test_a_flipped_bit_anywhere_is_never_the_secret(secret: bytes, data: st.DataObject) -> None:
    # Threshold 1 ignores x entirely, so an x flip there still gives the secret (see below).
    parts, threshold = _draw_split(data, min_threshold=2)
    chosen = data.draw(st.permutations(split(secret, parts, threshold)), label="order")
    chosen = chosen[:threshold]
    victim = data.draw(st.integers(0, threshold - 1), label="victim")
    bit = data.draw(st.integers(0, len(chosen[victim]) * 8 - 1), label="bit")
    chosen[victim] = _flip(chosen[victim], bit)
    # A flipped x may hit 0 or another share's x (rejected); otherwise a wrong secret.
    assert _combine_or_none(chosen) != secret


@settings(deadline=None, max_examples=80)
@given(secret=ANY_SECRET, data=st.data())
def test_a_flipped_y_bit_always_changes_the_secret(secret: bytes, data: st.DataObject) -> None:
    # Deterministic for any size: the flip adds L_i(0) * 2^k, and L_i(0) is never 0.
    parts, threshold = _draw_split(data)
    chosen = data.draw(st.permutations(split(secret, parts, threshold)), label="order")
    chosen = chosen[:threshold]
    victim = data.draw(st.integers(0, threshold - 1), label="victim")
    bit = data.draw(st.integers(0, len(secret) * 8 - 1), label="bit")
    chosen[victim] = _flip(chosen[victim], bit)
    assert combine(chosen) != secret


@settings(deadline=None, max_examples=20)
@given(secret=ANY_SECRET, bit=st.integers(0, 7))
def test_threshold_one_ignores_x(secret: bytes, bit: int) -> None:
    (share,) = split(secret, 1, 1)
    assert share[:-1] == secret
    assert _combine_or_none([_flip(share, len(secret) * 8 + bit)]) in {secret, None}


def test_the_full_255_shares_with_a_small_threshold() -> None:
    secret = bytes(range(32))
    shares = split(secret, 255, 3)
    assert sorted(share[-1] for share in shares) == list(range(1, 256))
    assert combine(shares[:3]) == secret
    assert combine(shares[-3:][::-1]) == secret
    assert combine(shares[100:102]) != secret


def test_the_full_255_shares_with_threshold_255() -> None:
    secret = b"\x00\xffKs"
    shares = split(secret, 255, 255)
    assert combine(shares[::-1]) == secret
    assert combine(shares[1:]) != secret  # fails by chance with probability 2^-32
