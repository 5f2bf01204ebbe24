"""The barrier: sealed state, unseal with the root key, row binding, terms and wiping."""

from __future__ import annotations

import struct
from collections.abc import Callable

import pytest

from keystead.crypto.secret import KeyMaterial
from keystead.errors import DecryptionFailed, InvalidRootKey, Sealed
from keystead.seal.barrier import Barrier, Keyring, new_keyring_for
from keystead.types import Term

ROOT = bytes(range(100, 132))
OTHER_ROOT = bytes(range(200, 232))
BINDING = b"keys/0f1e2d3c/versions/1"
PLAINTEXT = b"version material, wrapped"


def _root() -> KeyMaterial:
    return KeyMaterial(ROOT)


def _unsealed() -> tuple[Barrier, bytes]:
    wrapped = new_keyring_for(_root())
    barrier = Barrier()
    barrier.unseal(_root(), wrapped)
    return barrier, wrapped


def _term_of(value: bytes) -> int:
    (term,) = struct.unpack(">I", value[:4])
    return int(term)


def _is_zero(key: KeyMaterial) -> bool:
    return key == KeyMaterial(bytes(len(key)))


SEALED_CALLS: list[tuple[str, Callable[[Barrier], object]]] = [
    ("encrypt", lambda b: b.encrypt(PLAINTEXT, BINDING)),
    ("decrypt", lambda b: b.decrypt(b"\x00\x00\x00\x01" + bytes(40), BINDING)),
    ("rotate", lambda b: b.rotate()),
    ("active_term", lambda b: b.active_term),
    ("require_unsealed", lambda b: b.require_unsealed()),
]


@pytest.mark.parametrize("call", [c for _, c in SEALED_CALLS], ids=[n for n, _ in SEALED_CALLS])
def test_a_new_barrier_is_sealed_and_refuses(call: Callable[[Barrier], object]) -> None:
    barrier = Barrier()
    assert barrier.sealed
    with pytest.raises(Sealed) as excinfo:
        call(barrier)
    assert excinfo.value.code == "Sealed"


@pytest.mark.parametrize("call", [c for _, c in SEALED_CALLS], ids=[n for n, _ in SEALED_CALLS])
def test_a_resealed_barrier_refuses(call: Callable[[Barrier], object]) -> None:
    barrier, _ = _unsealed()
    barrier.seal()
    assert barrier.sealed
    with pytest.raises(Sealed):
        call(barrier)


def test_unseal_with_the_right_root_key() -> None:
    barrier, _ = _unsealed()
    assert not barrier.sealed
    barrier.require_unsealed()
    assert barrier.active_term == 1
    value = barrier.encrypt(PLAINTEXT, BINDING)
    assert _term_of(value) == 1
    assert barrier.decrypt(value, BINDING) == PLAINTEXT


def test_unseal_with_a_wrong_root_key_stays_sealed() -> None:
    wrapped = new_keyring_for(_root())
    barrier = Barrier()
    with pytest.raises(InvalidRootKey) as excinfo:
        barrier.unseal(KeyMaterial(OTHER_ROOT), wrapped)
    assert excinfo.value.code == "InvalidUnsealKey"
    assert excinfo.value.__cause__ is None
    assert barrier.sealed
    with pytest.raises(Sealed):
        barrier.require_unsealed()


def test_unseal_with_a_corrupted_keyring_is_an_invalid_root_key() -> None:
    wrapped = bytearray(new_keyring_for(_root()))
    wrapped[-1] ^= 0x01
    barrier = Barrier()
    with pytest.raises(InvalidRootKey):
        barrier.unseal(_root(), bytes(wrapped))
    assert barrier.sealed


def test_a_wrong_root_key_leaves_an_unsealed_barrier_as_it_was() -> None:
    barrier, wrapped = _unsealed()
    value = barrier.encrypt(PLAINTEXT, BINDING)
    with pytest.raises(InvalidRootKey):
        barrier.unseal(KeyMaterial(OTHER_ROOT), wrapped)
    assert barrier.decrypt(value, BINDING) == PLAINTEXT


def test_keyrings_wrapped_twice_differ() -> None:
    assert new_keyring_for(_root()) != new_keyring_for(_root())


def test_values_survive_seal_and_unseal() -> None:
    barrier, wrapped = _unsealed()
    value = barrier.encrypt(PLAINTEXT, BINDING)
    barrier.seal()
    barrier.unseal(_root(), wrapped)
    assert barrier.decrypt(value, BINDING) == PLAINTEXT


@pytest.mark.parametrize("other", [b"", b"keys/0f1e2d3c/versions/2", BINDING + b"\x00"])
def test_a_value_bound_to_one_row_fails_on_another(other: bytes) -> None:
    barrier, _ = _unsealed()
    value = barrier.encrypt(PLAINTEXT, BINDING)
    with pytest.raises(DecryptionFailed) as excinfo:
        barrier.decrypt(value, other)
    assert excinfo.value.code == "InvalidCiphertext"


def test_a_value_relabelled_with_another_term_fails() -> None:
    barrier, _ = _unsealed()
    value = barrier.encrypt(PLAINTEXT, BINDING)
    barrier.rotate()
    relabelled = struct.pack(">I", 2) + value[4:]
    with pytest.raises(DecryptionFailed):
        barrier.decrypt(relabelled, BINDING)


@pytest.mark.parametrize("term", [0, 3, 2**32 - 1])
def test_a_value_relabelled_with_an_unknown_term_fails(term: int) -> None:
    barrier, _ = _unsealed()
    value = barrier.encrypt(PLAINTEXT, BINDING)
    with pytest.raises(DecryptionFailed):
        barrier.decrypt(struct.pack(">I", term) + value[4:], BINDING)


@pytest.mark.parametrize("length", [0, 1, 3, 4, 5, 31])
def test_a_short_value_fails(length: int) -> None:
    barrier, _ = _unsealed()
    value = barrier.encrypt(PLAINTEXT, BINDING)
    with pytest.raises(DecryptionFailed):
        barrier.decrypt(value[:length], BINDING)


def test_every_flipped_byte_fails() -> None:
    barrier, _ = _unsealed()
    value = barrier.encrypt(PLAINTEXT, BINDING)
    for position in range(len(value)):
        tampered = bytearray(value)
        tampered[position] ^= 0x01
        with pytest.raises(DecryptionFailed):
            barrier.decrypt(bytes(tampered), BINDING)


def test_rotate_adds_a_term_and_old_values_still_decrypt() -> None:
    barrier, _ = _unsealed()
    old = barrier.encrypt(PLAINTEXT, BINDING)
    wrapped = barrier.rotate()
    assert barrier.active_term == 2
    new = barrier.encrypt(b"newer", BINDING)
    assert new[:4] == b"\x00\x00\x00\x02"
    assert old[:4] == b"\x00\x00\x00\x01"
    assert barrier.decrypt(old, BINDING) == PLAINTEXT
    assert barrier.decrypt(new, BINDING) == b"newer"

    keyring = Keyring.unwrap(_root(), wrapped)
    assert keyring.active_term == 2
    assert sorted(keyring._terms) == [1, 2]
    assert barrier._keyring is not None
    for term in (1, 2):
        assert keyring.key(Term(term)) == barrier._keyring.key(Term(term))
    assert keyring.key(Term(1)) != keyring.key(Term(2))


def test_the_rotated_keyring_opens_old_and_new_values_in_a_fresh_barrier() -> None:
    barrier, _ = _unsealed()
    old = barrier.encrypt(PLAINTEXT, BINDING)
    wrapped = barrier.rotate()
    new = barrier.encrypt(b"newer", BINDING)
    fresh = Barrier()
    fresh.unseal(_root(), wrapped)
    assert fresh.active_term == 2
    assert fresh.decrypt(old, BINDING) == PLAINTEXT
    assert fresh.decrypt(new, BINDING) == b"newer"


def test_the_rotated_keyring_is_wrapped_under_the_root_key_only() -> None:
    barrier, _ = _unsealed()
    wrapped = barrier.rotate()
    with pytest.raises(InvalidRootKey):
        Keyring.unwrap(KeyMaterial(OTHER_ROOT), wrapped)


def test_rotating_twice_gives_term_three() -> None:
    barrier, _ = _unsealed()
    values = [barrier.encrypt(b"t1", BINDING)]
    barrier.rotate()
    values.append(barrier.encrypt(b"t2", BINDING))
    wrapped = barrier.rotate()
    values.append(barrier.encrypt(b"t3", BINDING))
    assert [_term_of(v) for v in values] == [1, 2, 3]
    assert sorted(Keyring.unwrap(_root(), wrapped)._terms) == [1, 2, 3]
    assert [barrier.decrypt(v, BINDING) for v in values] == [b"t1", b"t2", b"t3"]


def test_a_new_keyring_has_term_one() -> None:
    keyring = Keyring.unwrap(_root(), new_keyring_for(_root()))
    assert keyring.active_term == 1
    assert sorted(keyring._terms) == [1]
    assert len(keyring.key(Term(1))) == 32
    with pytest.raises(DecryptionFailed):
        keyring.key(Term(2))


def test_new_keyring_for_wipes_its_plaintext_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    made: list[Keyring] = []
    original = Keyring.new

    def spy() -> Keyring:
        keyring = original()
        made.append(keyring)
        return keyring

    monkeypatch.setattr(Keyring, "new", staticmethod(spy))
    new_keyring_for(_root())
    assert len(made) == 1
    assert all(_is_zero(key) for key in made[0]._terms.values())


def test_seal_wipes_the_root_key_and_every_term() -> None:
    barrier, _ = _unsealed()
    barrier.rotate()
    root_key = barrier._root_key
    keyring = barrier._keyring
    assert root_key is not None
    assert keyring is not None
    held = [root_key, *keyring._terms.values()]
    assert len(held) == 3
    assert not any(_is_zero(key) for key in held)

    barrier.seal()

    assert barrier._root_key is None
    assert barrier._keyring is None
    assert all(_is_zero(key) for key in held)


def test_seal_twice_is_harmless() -> None:
    barrier, _ = _unsealed()
    barrier.seal()
    barrier.seal()
    assert barrier.sealed


def test_unsealing_again_wipes_the_previous_keys() -> None:
    barrier, wrapped = _unsealed()
    previous_root = barrier._root_key
    assert previous_root is not None
    assert barrier._keyring is not None
    previous_terms = list(barrier._keyring._terms.values())
    barrier.unseal(_root(), wrapped)
    assert _is_zero(previous_root)
    assert all(_is_zero(key) for key in previous_terms)
    assert barrier.decrypt(barrier.encrypt(PLAINTEXT, BINDING), BINDING) == PLAINTEXT


def test_unsealing_twice_with_the_same_root_key_object_keeps_the_root_key() -> None:
    wrapped = new_keyring_for(_root())
    barrier = Barrier()
    root_key = _root()
    barrier.unseal(root_key, wrapped)
    barrier.unseal(root_key, wrapped)
    rotated = barrier.rotate()
    assert Keyring.unwrap(_root(), rotated).active_term == 2


def test_repr_of_the_barrier_shows_no_bytes() -> None:
    barrier = Barrier()
    assert repr(barrier) == "Barrier(sealed=True)"
    barrier, _ = _unsealed()
    text = repr(barrier)
    assert text == "Barrier(sealed=False)"
    assert barrier._keyring is not None
    with barrier._keyring.key(Term(1)).expose() as raw:
        term_key = raw
    for secret in (ROOT, term_key):
        assert secret.hex() not in text
        assert repr(secret) not in text
    assert ROOT.hex() not in repr(barrier._keyring)
    assert term_key.hex() not in repr(barrier._keyring)
