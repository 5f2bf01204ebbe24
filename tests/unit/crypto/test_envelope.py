"""The section 4 envelope: byte layout, canonical context, and tamper detection per algorithm."""

from __future__ import annotations

import struct
from uuid import UUID

import pytest
from cryptography.hazmat.primitives.ciphers.aead import AESGCM, ChaCha20Poly1305
from hypothesis import given, settings
from hypothesis import strategies as st

from keystead.crypto import envelope, symmetric
from keystead.crypto.secret import KeyMaterial
from keystead.crypto.symmetric import AeadAlgorithm
from keystead.errors import DecryptionFailed

KEY_ID = UUID("0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0")
VERSION = 0x01020304
NONCE = bytes.fromhex("a0a1a2a3a4a5a6a7a8a9aaab")
PLAINTEXT = b"the quick brown fox"
CONTEXT = {"tenant": "acme", "purpose": "backup", "city": "Zürich"}

ALGORITHM_IDS = {
    AeadAlgorithm.AES_256_GCM: 0x01,
    AeadAlgorithm.AES_128_GCM: 0x02,
    AeadAlgorithm.CHACHA20_POLY1305: 0x03,
}
KEY_BYTES = {
    AeadAlgorithm.AES_256_GCM: 32,
    AeadAlgorithm.AES_128_GCM: 16,
    AeadAlgorithm.CHACHA20_POLY1305: 32,
}
REFERENCE_CIPHERS: dict[AeadAlgorithm, type[AESGCM | ChaCha20Poly1305]] = {
    AeadAlgorithm.AES_256_GCM: AESGCM,
    AeadAlgorithm.AES_128_GCM: AESGCM,
    AeadAlgorithm.CHACHA20_POLY1305: ChaCha20Poly1305,
}
ALGORITHMS = list(AeadAlgorithm)

# Each property runs once per algorithm, so fewer examples keep the file fast.
PER_ALGORITHM = settings(deadline=None, max_examples=50)

contexts = st.dictionaries(st.text(max_size=8), st.text(max_size=12), max_size=4)


def _raw_key(algorithm: AeadAlgorithm) -> bytes:
    return bytes(range(7, 7 + KEY_BYTES[algorithm]))


def _key(algorithm: AeadAlgorithm) -> KeyMaterial:
    return KeyMaterial(_raw_key(algorithm))


def _seal(
    algorithm: AeadAlgorithm,
    plaintext: bytes = PLAINTEXT,
    context: dict[str, str] | None = None,
    nonce: bytes = NONCE,
) -> bytes:
    return symmetric._encrypt_from_parts(
        algorithm,
        key=_key(algorithm),
        header=(KEY_ID, VERSION),
        plaintext=plaintext,
        context=CONTEXT if context is None else context,
        nonce=nonce,
    )


def _assert_fails(
    algorithm: AeadAlgorithm, ciphertext: bytes, context: dict[str, str] | None = None
) -> None:
    with pytest.raises(DecryptionFailed) as excinfo:
        symmetric.decrypt(
            algorithm, _key(algorithm), ciphertext, CONTEXT if context is None else context
        )
    assert excinfo.value.code == "InvalidCiphertext"
    assert excinfo.value.__cause__ is None


# --- canonical context ------------------------------------------------------------


def test_canonical_context_sorts_keys_without_spaces() -> None:
    assert (
        envelope.canonical_context({"b": "2", "a": "1", "c": "3"}) == b'{"a":"1","b":"2","c":"3"}'
    )


def test_canonical_context_is_utf8_and_keeps_non_ascii() -> None:
    encoded = envelope.canonical_context({"city": "Zürich", "名前": "値"})
    assert encoded == '{"city":"Zürich","名前":"値"}'.encode()
    assert b"\\u" not in encoded


def test_canonical_context_of_nothing_is_an_empty_object() -> None:
    assert envelope.canonical_context({}) == b"{}"


@settings(deadline=None)
@given(contexts)
def test_canonical_context_ignores_insertion_order(context: dict[str, str]) -> None:
    reversed_context = dict(reversed(list(context.items())))
    assert envelope.canonical_context(context) == envelope.canonical_context(reversed_context)


# --- byte layout --------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_byte_layout_matches_the_module_docstring(algorithm: AeadAlgorithm) -> None:
    blob = _seal(algorithm)
    assert blob[0:2] == b"KS"
    assert blob[2] == 0x01
    assert blob[3:19] == KEY_ID.bytes
    assert blob[19:23] == b"\x01\x02\x03\x04"
    assert struct.unpack(">I", blob[19:23]) == (VERSION,)
    assert blob[23] == ALGORITHM_IDS[algorithm]
    assert blob[24:36] == NONCE
    assert len(blob) == 36 + len(PLAINTEXT) + 16
    assert envelope.HEADER_BYTES == 24


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_ciphertext_recomputed_with_cryptography(algorithm: AeadAlgorithm) -> None:
    blob = _seal(algorithm)
    header = (
        b"KS\x01" + KEY_ID.bytes + VERSION.to_bytes(4, "big") + bytes([ALGORITHM_IDS[algorithm]])
    )
    associated_data = (
        header + NONCE + '{"city":"Zürich","purpose":"backup","tenant":"acme"}'.encode()
    )
    cipher = REFERENCE_CIPHERS[algorithm](_raw_key(algorithm))
    assert blob == header + NONCE + cipher.encrypt(NONCE, PLAINTEXT, associated_data)
    assert cipher.decrypt(NONCE, blob[36:], associated_data) == PLAINTEXT


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_parse_header_and_read_header(algorithm: AeadAlgorithm) -> None:
    blob = _seal(algorithm)
    parsed = envelope.parse_header(blob)
    assert parsed == envelope.EnvelopeHeader(KEY_ID, VERSION, ALGORITHM_IDS[algorithm])
    assert parsed.pack() == blob[:24]
    assert symmetric.read_header(blob) == (KEY_ID, VERSION)


def test_read_header_of_version_one() -> None:
    blob = symmetric.encrypt(
        AeadAlgorithm.AES_256_GCM, _key(AeadAlgorithm.AES_256_GCM), (KEY_ID, 1), b"x", {}
    )
    assert symmetric.read_header(blob) == (KEY_ID, 1)


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_generate_gives_a_key_of_the_algorithm_length(algorithm: AeadAlgorithm) -> None:
    key = symmetric.generate(algorithm)
    assert len(key) == KEY_BYTES[algorithm]
    blob = symmetric.encrypt(algorithm, key, (KEY_ID, 1), PLAINTEXT, CONTEXT)
    assert symmetric.decrypt(algorithm, key, blob, CONTEXT) == PLAINTEXT


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_random_nonces_differ(algorithm: AeadAlgorithm) -> None:
    first = symmetric.encrypt(algorithm, _key(algorithm), (KEY_ID, 1), PLAINTEXT, CONTEXT)
    second = symmetric.encrypt(algorithm, _key(algorithm), (KEY_ID, 1), PLAINTEXT, CONTEXT)
    assert first[24:36] != second[24:36]


def test_key_of_wrong_length_for_the_algorithm_is_refused() -> None:
    with pytest.raises(ValueError, match="key"):
        symmetric.encrypt(AeadAlgorithm.AES_128_GCM, KeyMaterial(bytes(32)), (KEY_ID, 1), b"x", {})


# --- properties, for every algorithm -------------------------------------------------


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@PER_ALGORITHM
@given(plaintext=st.binary(max_size=256), context=contexts, version=st.integers(1, 2**32 - 1))
def test_round_trip(
    algorithm: AeadAlgorithm, plaintext: bytes, context: dict[str, str], version: int
) -> None:
    blob = symmetric.encrypt(algorithm, _key(algorithm), (KEY_ID, version), plaintext, context)
    assert symmetric.read_header(blob) == (KEY_ID, version)
    assert symmetric.decrypt(algorithm, _key(algorithm), blob, dict(context)) == plaintext


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@PER_ALGORITHM
@given(data=st.data(), plaintext=st.binary(max_size=48))
def test_any_single_flipped_byte_fails(
    algorithm: AeadAlgorithm, data: st.DataObject, plaintext: bytes
) -> None:
    blob = _seal(algorithm, plaintext)
    position = data.draw(st.integers(min_value=0, max_value=len(blob) - 1), label="position")
    mask = data.draw(st.integers(min_value=1, max_value=255), label="mask")
    tampered = bytearray(blob)
    tampered[position] ^= mask
    _assert_fails(algorithm, bytes(tampered))


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_every_position_flipped_fails_exhaustively(algorithm: AeadAlgorithm) -> None:
    blob = _seal(algorithm)
    for position in range(len(blob)):
        tampered = bytearray(blob)
        tampered[position] ^= 0x80
        _assert_fails(algorithm, bytes(tampered))


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@PER_ALGORITHM
@given(data=st.data(), context=contexts.filter(bool))
def test_changed_context_entry_fails(
    algorithm: AeadAlgorithm, data: st.DataObject, context: dict[str, str]
) -> None:
    blob = _seal(algorithm, context=context)
    name = data.draw(st.sampled_from(sorted(context)), label="name")
    value = data.draw(st.text(max_size=12).filter(lambda v: v != context[name]), label="value")
    _assert_fails(algorithm, blob, {**context, name: value})


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@PER_ALGORITHM
@given(data=st.data(), context=contexts)
def test_added_context_entry_fails(
    algorithm: AeadAlgorithm, data: st.DataObject, context: dict[str, str]
) -> None:
    blob = _seal(algorithm, context=context)
    name = data.draw(st.text(max_size=8).filter(lambda n: n not in context), label="name")
    value = data.draw(st.text(max_size=12), label="value")
    _assert_fails(algorithm, blob, {**context, name: value})


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@PER_ALGORITHM
@given(data=st.data(), context=contexts.filter(bool))
def test_removed_context_entry_fails(
    algorithm: AeadAlgorithm, data: st.DataObject, context: dict[str, str]
) -> None:
    blob = _seal(algorithm, context=context)
    name = data.draw(st.sampled_from(sorted(context)), label="name")
    _assert_fails(algorithm, blob, {k: v for k, v in context.items() if k != name})


@pytest.mark.parametrize(
    ("algorithm", "other"), [(a, b) for a in ALGORITHMS for b in ALGORITHMS if a != b]
)
def test_decrypt_with_another_algorithm_fails(
    algorithm: AeadAlgorithm, other: AeadAlgorithm
) -> None:
    blob = _seal(algorithm)
    _assert_fails(other, blob)
    if KEY_BYTES[other] == KEY_BYTES[algorithm]:
        # The same key bytes under another algorithm must fail as well.
        with pytest.raises(DecryptionFailed):
            symmetric.decrypt(other, _key(algorithm), blob, CONTEXT)


@pytest.mark.parametrize(
    ("algorithm", "label"),
    [
        (a, label)
        for a in ALGORITHMS
        for label in (0x00, 0x01, 0x02, 0x03, 0x04, 0xFF)
        if label != ALGORITHM_IDS[a]
    ],
)
def test_relabelled_algorithm_id_fails(algorithm: AeadAlgorithm, label: int) -> None:
    blob = bytearray(_seal(algorithm))
    blob[23] = label
    _assert_fails(algorithm, bytes(blob))


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_other_key_fails(algorithm: AeadAlgorithm) -> None:
    blob = _seal(algorithm)
    other = KeyMaterial(bytes(KEY_BYTES[algorithm]))
    with pytest.raises(DecryptionFailed):
        symmetric.decrypt(algorithm, other, blob, CONTEXT)


def _garbage() -> list[object]:
    valid = _seal(AeadAlgorithm.AES_256_GCM)
    wrong_magic = b"KT" + valid[2:]
    wrong_format = valid[:2] + b"\x02" + valid[3:]
    zero_format = valid[:2] + b"\x00" + valid[3:]
    return [
        pytest.param(b"", id="empty"),
        pytest.param(b"KS", id="magic-only"),
        pytest.param(b"KS\x01", id="magic-and-format"),
        pytest.param(valid[:23], id="header-minus-one"),
        pytest.param(valid[:24], id="header-only"),
        pytest.param(valid[:36], id="header-and-nonce"),
        pytest.param(valid[:51], id="tag-minus-one"),
        pytest.param(bytes(100), id="zeros"),
        pytest.param(b"\xff" * 100, id="ones"),
        pytest.param(b"not a keystead ciphertext at all, just text", id="text"),
        pytest.param(wrong_magic, id="wrong-magic"),
        pytest.param(b"ks" + valid[2:], id="lowercase-magic"),
        pytest.param(wrong_format, id="format-2"),
        pytest.param(zero_format, id="format-0"),
    ]


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("blob", _garbage())
def test_garbage_fails(algorithm: AeadAlgorithm, blob: bytes) -> None:
    _assert_fails(algorithm, blob)


@pytest.mark.parametrize(
    "blob",
    [
        pytest.param(b"", id="empty"),
        pytest.param(b"KS\x01" + bytes(20), id="short"),
        pytest.param(b"KT\x01" + bytes(40), id="wrong-magic"),
        pytest.param(b"KS\x02" + bytes(40), id="wrong-format"),
        pytest.param(b"KS\x01" + bytes(20) + b"\x04" + bytes(40), id="unknown-algorithm"),
        pytest.param(b"KS\x01" + bytes(20) + b"\x00" + bytes(40), id="algorithm-zero"),
    ],
)
def test_read_header_refuses_garbage(blob: bytes) -> None:
    with pytest.raises(DecryptionFailed):
        symmetric.read_header(blob)


@settings(deadline=None, max_examples=100)
@given(blob=st.binary(max_size=80))
def test_random_bytes_never_decrypt(blob: bytes) -> None:
    for algorithm in ALGORITHMS:
        _assert_fails(algorithm, blob)
