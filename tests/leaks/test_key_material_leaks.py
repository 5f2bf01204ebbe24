"""Leak tests (STYLE.md C38): key bytes never reach a repr, a pickle, a copy or the log."""

from __future__ import annotations

import base64
import copy
import json
import logging
import pickle
from collections.abc import Iterator

import pytest
import structlog

from keystead.crypto.secret import KeyMaterial
from keystead.logs import REDACTED, configure_logging
from keystead.services.system import InitResult

RAW = bytes.fromhex("8f3a9c5e1d7b2f4a6c8e0b1d3f5a7c9e2b4d6f8a0c1e3b5d7f9a2c4e6b8d0f1a")
SHARE_1 = bytes.fromhex("01" + "a5" * 32)
SHARE_2 = bytes.fromhex("02" + "5a" * 32)
ROOT_TOKEN = "kst_r00t_t0ken_abcdefghijklmnop"


def _forms(raw: bytes) -> list[str]:
    """Every way the bytes could show up in text."""
    return [
        raw.hex(),
        raw.hex().upper(),
        repr(raw),
        str(raw),
        raw.decode("latin-1"),
        base64.b64encode(raw).decode("ascii"),
        base64.urlsafe_b64encode(raw).decode("ascii"),
        base64.urlsafe_b64encode(raw).decode("ascii").rstrip("="),
        str(list(raw)),
        repr(bytearray(raw)),
    ]


def _assert_absent(text: str, raw: bytes) -> None:
    for form in _forms(raw):
        assert form not in text, form


# --- KeyMaterial ---------------------------------------------------------------------


def test_repr_and_str_show_only_the_length() -> None:
    key = KeyMaterial(RAW)
    old_style = "%s" % (key,)  # noqa: UP031 - printf formatting is one more path to check
    for text in (repr(key), str(key), f"{key}", f"{key!r}", old_style, format(key, "")):
        assert text == "KeyMaterial(<redacted>, 32 bytes)"
        _assert_absent(text, RAW)


def test_repr_of_containers_holding_key_material() -> None:
    key = KeyMaterial(RAW)
    for text in (repr([key]), repr({"k": key}), repr((key,)), str([key])):
        _assert_absent(text, RAW)


@pytest.mark.parametrize("protocol", range(pickle.HIGHEST_PROTOCOL + 1))
def test_pickle_is_refused(protocol: int) -> None:
    with pytest.raises(TypeError, match="cannot be pickled"):
        pickle.dumps(KeyMaterial(RAW), protocol=protocol)


def test_pickle_of_a_container_is_refused() -> None:
    with pytest.raises(TypeError):
        pickle.dumps({"key": KeyMaterial(RAW)})


def test_getstate_is_refused() -> None:
    with pytest.raises(TypeError, match="cannot be serialized"):
        KeyMaterial(RAW).__getstate__()


def test_copy_and_deepcopy_are_refused() -> None:
    key = KeyMaterial(RAW)
    with pytest.raises(TypeError, match="cannot be copied"):
        copy.copy(key)
    with pytest.raises(TypeError, match="cannot be copied"):
        copy.deepcopy(key)
    with pytest.raises(TypeError):
        copy.deepcopy([key])


def test_there_is_no_instance_dict() -> None:
    key = KeyMaterial(RAW)
    assert not hasattr(key, "__dict__")
    with pytest.raises(AttributeError):
        key.extra = 1  # type: ignore[attr-defined]


def test_equality_is_by_value() -> None:
    assert KeyMaterial(RAW) == KeyMaterial(RAW)
    assert KeyMaterial(RAW) == KeyMaterial(bytearray(RAW))
    assert KeyMaterial(RAW) != KeyMaterial(RAW[:-1] + b"\x00")
    assert KeyMaterial(RAW) != KeyMaterial(RAW[:16])
    assert KeyMaterial(RAW) != RAW


def test_hash_is_refused() -> None:
    key = KeyMaterial(RAW)
    with pytest.raises(TypeError, match="unhashable"):
        hash(key)
    with pytest.raises(TypeError):
        {key}  # noqa: B018 - building the set is the test


def test_expose_gives_the_bytes() -> None:
    key = KeyMaterial(RAW)
    assert len(key) == 32
    with key.expose() as raw:
        assert raw == RAW
        assert isinstance(raw, bytes)


def test_the_caller_buffer_is_copied() -> None:
    source = bytearray(RAW)
    key = KeyMaterial(source)
    source[:] = bytes(len(source))
    with key.expose() as raw:
        assert raw == RAW


def test_wipe_zeroes() -> None:
    key = KeyMaterial(RAW)
    key.wipe()
    assert len(key) == 32
    with key.expose() as raw:
        assert raw == bytes(32)
    assert key == KeyMaterial(bytes(32))
    assert key._buffer == bytearray(32)


def test_empty_material_is_refused() -> None:
    with pytest.raises(ValueError, match="empty"):
        KeyMaterial(b"")


# --- InitResult ------------------------------------------------------------------------


def test_init_result_repr_holds_neither_shares_nor_token() -> None:
    result = InitResult([SHARE_1, SHARE_2], ROOT_TOKEN)
    for text in (repr(result), str(result)):
        assert ROOT_TOKEN not in text
        _assert_absent(text, SHARE_1)
        _assert_absent(text, SHARE_2)


# --- the configured log chain -------------------------------------------------------


@pytest.fixture
def fresh_logging() -> Iterator[None]:
    """Reset structlog's cached loggers and restore the stdlib root logger afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    structlog.reset_defaults()
    yield
    structlog.reset_defaults()
    for handler in root.handlers[:]:
        if handler not in handlers:
            root.removeHandler(handler)
    for handler in handlers:
        if handler not in root.handlers:
            root.addHandler(handler)
    root.setLevel(level)


PLAINTEXT = b"the plaintext of a customer record"
SHARE = b"\x01" + bytes(range(32))
PASSWORD = "hunter2hunter2"
TOKEN = "kst_secret"
OTHER = b"rawbytes"


def _emit(logger: structlog.typing.FilteringBoundLogger) -> None:
    logger.info(
        "x",
        plaintext=PLAINTEXT,
        token=TOKEN,
        password=PASSWORD,
        share=SHARE,
        key_material=KeyMaterial(RAW),
        other=OTHER,
    )


def _assert_no_secrets(text: str) -> None:
    assert TOKEN not in text
    assert PASSWORD not in text
    for raw in (PLAINTEXT, SHARE, RAW, OTHER):
        _assert_absent(text, raw)
    assert "rawbytes" not in text


@pytest.mark.usefixtures("fresh_logging")
def test_the_json_log_chain_redacts(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("debug", "json")
    _emit(structlog.get_logger())
    out, err = capsys.readouterr()
    assert out == ""
    _assert_no_secrets(err)
    assert REDACTED == "[redacted]"
    assert "[redacted]" in err
    assert "<8 bytes>" in err

    lines = err.strip().splitlines()
    assert len(lines) == 1
    event = json.loads(lines[0])
    assert event["event"] == "x"
    assert event["level"] == "info"
    for name in ("plaintext", "token", "password", "share", "key_material"):
        assert event[name] == "[redacted]", name
    assert event["other"] == "<8 bytes>"


@pytest.mark.usefixtures("fresh_logging")
def test_the_console_log_chain_redacts(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("debug", "console")
    _emit(structlog.get_logger())
    err = capsys.readouterr().err
    _assert_no_secrets(err)
    assert "[redacted]" in err
    assert "<8 bytes>" in err


@pytest.mark.usefixtures("fresh_logging")
def test_bytes_and_key_material_under_any_name_show_only_the_length(
    capsys: pytest.CaptureFixture[str],
) -> None:
    configure_logging("debug", "json")
    structlog.get_logger("keystead.test").info(
        "lengths",
        wrapped=bytearray(OTHER),
        view=memoryview(PLAINTEXT),
        root=KeyMaterial(RAW),
        key_id="0f1e2d3c",
    )
    err = capsys.readouterr().err
    _assert_no_secrets(err)
    event = json.loads(err)
    assert event["wrapped"] == "<8 bytes>"
    assert event["view"] == f"<{len(PLAINTEXT)} bytes>"
    assert event["root"] == "<32 bytes>"
    assert event["key_id"] == "0f1e2d3c"


@pytest.mark.usefixtures("fresh_logging")
@pytest.mark.parametrize(
    "name",
    [
        "plaintext", "ciphertext", "key_material", "material", "passphrase", "password", "pin",
        "token", "root_token", "authorization", "data_key", "share", "shares", "secret",
        "database_url", "Authorization", "TOKEN",
    ],
)  # fmt: skip
def test_every_denylisted_name_is_redacted(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("info", "json")
    structlog.get_logger().warning("denylist", **{name: "v4lue-that-must-not-leak"})
    err = capsys.readouterr().err
    assert "v4lue-that-must-not-leak" not in err
    assert json.loads(err)[name] == "[redacted]"


@pytest.mark.usefixtures("fresh_logging")
def test_the_level_filter_applies(capsys: pytest.CaptureFixture[str]) -> None:
    configure_logging("warning", "json")
    logger = structlog.get_logger()
    logger.info("hidden", token=TOKEN)
    logger.warning("shown", token=TOKEN)
    err = capsys.readouterr().err
    assert "hidden" not in err
    assert "shown" in err
    _assert_no_secrets(err)
