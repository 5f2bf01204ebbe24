"""The PKCS#11 layer against SoftHSM2: one library per process, reconnect once, the root key."""

from __future__ import annotations

from pathlib import Path

import pytest
from pkcs11 import exceptions as p11
from pydantic import SecretStr

from hsm_support import SoftHSM
from keystead.crypto.secret import KeyMaterial
from keystead.errors import HSMError, InvalidRootKey
from keystead.seal import recovery
from keystead.seal.barrier import Barrier, Keyring, new_keyring_for, rewrap_keyring
from keystead.seal.pkcs11 import PKCS11RootKey, PKCS11Seal, destroy_root_key
from keystead.seal.pkcs11_library import Library, load_library
from keystead.seal.pkcs11_token import PKCS11Token

pytestmark = pytest.mark.hsm

AAD = b"keystead/keyring/v1"


@pytest.fixture
def token(softhsm: SoftHSM):
    token = PKCS11Token(softhsm.module, softhsm.token_label, SecretStr(softhsm.pin))
    yield token
    token.close()


@pytest.fixture
def root_key(token: PKCS11Token) -> PKCS11RootKey:
    return PKCS11Seal(token, "test-root").new_root_key()


def test_the_library_is_loaded_once_per_process(softhsm: SoftHSM, token: PKCS11Token) -> None:
    token.connect()
    other = PKCS11Token(softhsm.module, softhsm.token_label, SecretStr(softhsm.pin))
    other.connect()  # the token is logged in already: the second one shares the login
    assert load_library(softhsm.module) is load_library(Path(str(softhsm.module)))
    assert token._library is other._library
    other.close()


# python-pkcs11 ends a key search in a finaliser, which fails again on the dead session; the
# failure that matters is raised, caught and retried, and only the finaliser's is "ignored".
@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_broken_session_reconnects_once(token: PKCS11Token, root_key: PKCS11RootKey) -> None:
    wrapped = root_key.encrypt(b"keyring", AAD)
    library = load_library(token.module)
    library.native.reinitialize()  # behind the token's back: its sessions are gone
    assert root_key.decrypt(wrapped, AAD) == b"keyring"
    calls = []

    def flaky(session):
        calls.append(session)
        if len(calls) == 1:
            raise p11.DeviceError
        return "done"

    assert token.run(flaky, "a flaky call") == "done"
    assert len(calls) == 2


def test_a_second_failure_is_reported(token: PKCS11Token) -> None:
    calls = []

    def broken(session):
        calls.append(session)
        raise p11.DeviceRemoved

    with pytest.raises(HSMError) as caught:
        token.run(broken, "a broken call")
    assert len(calls) == 2
    assert caught.value.code == "HSMUnavailable"
    assert caught.value.retry is True
    assert "a broken call" in caught.value.operator_detail


@pytest.mark.parametrize("error", [p11.MechanismInvalid, p11.PinIncorrect, p11.ArgumentsBad])
def test_definitive_errors_are_not_retried(token: PKCS11Token, error: type[Exception]) -> None:
    calls = []

    def refused(session):
        calls.append(session)
        raise error

    with pytest.raises(error):
        token.run(refused, "a refused call")
    assert len(calls) == 1


def test_the_root_key_round_trips_and_binds_its_associated_data(root_key: PKCS11RootKey) -> None:
    first = root_key.encrypt(b"keyring bytes", AAD)
    second = root_key.encrypt(b"keyring bytes", AAD)
    assert first != second  # a fresh nonce each time
    assert len(first) == 12 + len(b"keyring bytes") + 16
    assert root_key.decrypt(first, AAD) == b"keyring bytes"
    with pytest.raises(InvalidRootKey):
        root_key.decrypt(first, AAD + b"x")
    for position in (0, 11, 12, len(first) - 1):
        tampered = bytearray(first)
        tampered[position] ^= 0x01
        with pytest.raises(InvalidRootKey):
            root_key.decrypt(bytes(tampered), AAD)
    with pytest.raises(InvalidRootKey):
        root_key.decrypt(first[:27], AAD)


def test_another_key_or_a_missing_key(token: PKCS11Token, root_key: PKCS11RootKey) -> None:
    other = PKCS11Seal(token, "test-root").new_root_key()
    wrapped = root_key.encrypt(b"keyring", AAD)
    with pytest.raises(InvalidRootKey):
        other.decrypt(wrapped, AAD)
    destroy_root_key(other)
    with pytest.raises(HSMError) as caught:
        other.decrypt(wrapped, AAD)
    assert "no root key of this server" in caught.value.public_detail


def test_the_barrier_unseals_rotates_and_moves_between_root_keys(
    root_key: PKCS11RootKey,
) -> None:
    wrapped = new_keyring_for(root_key)
    barrier = Barrier()
    barrier.unseal(root_key, wrapped)
    value = barrier.encrypt(b"material", b"row")
    rotated = barrier.rotate(wrapped)
    assert barrier.active_term == 2
    software = KeyMaterial(bytes(range(32)))
    moved = rewrap_keyring(rotated, root_key, software)
    fresh = Barrier()
    fresh.unseal(software, moved)
    assert fresh.decrypt(value, b"row") == b"material"
    assert Keyring.unwrap(root_key, rewrap_keyring(moved, software, root_key)).active_term == 2
    with pytest.raises(InvalidRootKey):
        Barrier().unseal(KeyMaterial(bytes(32)), moved)


@pytest.mark.parametrize(
    ("change", "named", "retry"),
    [
        ({"label": "no-such-token"}, "pkcs11_token_label", True),
        ({"pin": SecretStr("wrong-pin")}, "pkcs11_pin", False),
        ({"module": Path("/nonexistent/lib.so")}, "pkcs11_module", True),
    ],
)
def test_connect_names_the_setting_at_fault(
    softhsm: SoftHSM, change: dict, named: str, retry: bool
) -> None:
    options = {"module": softhsm.module, "label": softhsm.token_label,
               "pin": SecretStr(softhsm.pin), **change}  # fmt: skip
    token = PKCS11Token(options["module"], options["label"], options["pin"])
    with pytest.raises(HSMError) as caught:
        token.connect()
    assert named in caught.value.public_detail
    assert caught.value.retry is retry


def test_recovery_check_tells_the_right_key_from_any_other() -> None:
    key = KeyMaterial(bytes(range(32)))
    check = recovery.check_value(key)
    assert len(check) == 64
    recovery.verify(KeyMaterial(bytes(range(32))), check)
    with pytest.raises(InvalidRootKey):
        recovery.verify(KeyMaterial(bytes(range(1, 33))), check)
    with pytest.raises(InvalidRootKey):
        recovery.verify(key, check[:-1] + b"0")


def test_a_refused_decryption_keeps_the_session_for_the_next_call(
    token: PKCS11Token, root_key: PKCS11RootKey
) -> None:
    wrapped = root_key.encrypt(b"keyring", AAD)
    with pytest.raises(InvalidRootKey):
        root_key.decrypt(wrapped, b"other associated data")
    assert len(token._idle) == 1
    assert root_key.decrypt(wrapped, AAD) == b"keyring"
    assert len(token._idle) == 1


def test_a_definitive_error_on_the_second_try_is_raised_as_is(token: PKCS11Token) -> None:
    errors = [p11.DeviceError, p11.MechanismInvalid]

    def failing(_session):
        raise errors.pop(0)

    with pytest.raises(p11.MechanismInvalid):
        token.run(failing, "a call")
    assert errors == []


def test_a_nested_call_opens_a_second_session_closed_with_the_pool(token: PKCS11Token) -> None:
    def outer(session):
        return token.run(lambda inner: inner is not session, "an inner call")

    assert token.run(outer, "an outer call") is True
    assert len(token._idle) == 2
    token.close()
    assert token._idle == []
    assert token.run(lambda session: session is not None, "after close") is True


@pytest.mark.parametrize(
    ("method", "args"),
    [("encrypt", (b"x", AAD)), ("decrypt", (bytes(40), AAD))],
)
def test_root_key_operations_describe_what_the_token_refuses(
    monkeypatch: pytest.MonkeyPatch, root_key: PKCS11RootKey, method: str, args: tuple
) -> None:
    def refuse(*_: object) -> None:
        raise p11.MechanismInvalid

    monkeypatch.setattr(PKCS11Token, "run", refuse)
    with pytest.raises(HSMError) as caught:
        getattr(root_key, method)(*args)
    assert "CKM_AES_GCM" in caught.value.public_detail
    assert caught.value.retry is False


def test_generating_and_destroying_describe_what_the_token_refuses(
    monkeypatch: pytest.MonkeyPatch, token: PKCS11Token, root_key: PKCS11RootKey
) -> None:
    def refuse(*_: object) -> None:
        raise p11.PinLocked

    monkeypatch.setattr(PKCS11Token, "run", refuse)
    for attempt in (lambda: PKCS11Seal(token, "k").new_root_key(),
                    lambda: destroy_root_key(root_key)):  # fmt: skip
        with pytest.raises(HSMError) as caught:
            attempt()
        assert "PinLocked" in caught.value.public_detail
        assert caught.value.retry is False


def test_a_module_that_cannot_initialise_again_is_an_hsm_error() -> None:
    class Native:
        def reinitialize(self) -> None:
            raise p11.GeneralError

    library = Library(Path("/fake/module.so"), Native())  # type: ignore[arg-type]
    with pytest.raises(HSMError) as caught:
        library.reinitialize()
    assert caught.value.public_detail == "the token failed (GeneralError)"
    assert library.generation == 1
    assert repr(library) == "Library(module='/fake/module.so', generation=1)"


def test_reprs_name_the_token_never_the_pin(softhsm: SoftHSM, root_key: PKCS11RootKey) -> None:
    seal = PKCS11Seal(root_key.token, "keystead-root")
    texts = [repr(root_key), repr(seal), repr(root_key.token)]
    assert f"token={softhsm.token_label!r}" in texts[0]
    assert all(softhsm.pin not in text for text in texts)
    root_key.wipe()  # nothing to wipe: the key never left the token
    assert root_key.decrypt(root_key.encrypt(b"still there", AAD), AAD) == b"still there"
