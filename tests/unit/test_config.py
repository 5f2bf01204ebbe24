"""Settings: precedence of sources, dev defaults, named errors and the pre-bind checks."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from keystead.config import (
    DEV_DATA_DIR,
    Settings,
    check_server_settings,
    is_loopback,
    load_settings,
    split_listen,
)
from keystead.errors import ConfigurationError

DB_PASSWORD = "s3cr3t-db-passw0rd"
DB_URL = f"postgresql://keystead:{DB_PASSWORD}@db.internal:5432/keystead"


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No KEYSTEAD_* variable of the developer's shell reaches these tests."""
    for name in list(os.environ):
        if name.upper().startswith("KEYSTEAD_"):
            monkeypatch.delenv(name)


def _toml(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "keystead.toml"
    path.write_text(text, encoding="utf-8")
    return path


def _problem(config_file: Path | None = None, **flags: object) -> str:
    with pytest.raises(ConfigurationError) as excinfo:
        load_settings(config_file, **flags)
    assert excinfo.value.code == "ConfigurationError"
    assert excinfo.value.__cause__ is None
    return str(excinfo.value)


# --- defaults and precedence ----------------------------------------------------------


def test_defaults() -> None:
    settings = load_settings()
    assert settings.dev is False
    assert settings.data_dir == Path("keystead-data")
    assert settings.listen == "127.0.0.1:8200"
    assert (settings.host, settings.port) == ("127.0.0.1", 8200)
    assert settings.tls_cert is None
    assert settings.tls_key is None
    assert settings.insecure_http is False
    assert settings.database_url is None
    assert settings.max_request_bytes == 1024 * 1024
    assert settings.log_level == "info"
    assert settings.log_format == "json"


def test_toml_file_overrides_defaults(tmp_path: Path) -> None:
    text = 'listen = "127.0.0.1:9000"\nlog_level = "debug"\nmax_request_bytes = 4096\n'
    settings = load_settings(_toml(tmp_path, text))
    assert settings.listen == "127.0.0.1:9000"
    assert settings.log_level == "debug"
    assert settings.max_request_bytes == 4096
    assert settings.log_format == "json"


def test_environment_overrides_toml_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _toml(tmp_path, 'listen = "127.0.0.1:9000"\nlog_level = "debug"\n')
    monkeypatch.setenv("KEYSTEAD_LISTEN", "127.0.0.1:9100")
    settings = load_settings(path)
    assert settings.listen == "127.0.0.1:9100"
    assert settings.log_level == "debug"


def test_flags_override_environment_and_toml_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = 'listen = "127.0.0.1:9000"\nmax_request_bytes = 2048\nlog_format = "console"\n'
    monkeypatch.setenv("KEYSTEAD_LISTEN", "127.0.0.1:9100")
    monkeypatch.setenv("KEYSTEAD_MAX_REQUEST_BYTES", "3072")
    settings = load_settings(_toml(tmp_path, text), listen="127.0.0.1:9200")
    assert settings.listen == "127.0.0.1:9200"
    assert settings.max_request_bytes == 3072
    assert settings.log_format == "console"


def test_a_flag_of_none_means_not_given(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KEYSTEAD_LISTEN", "127.0.0.1:9100")
    settings = load_settings(listen=None, data_dir=None, dev=None)
    assert settings.listen == "127.0.0.1:9100"
    assert settings.data_dir == Path("keystead-data")
    assert settings.dev is False


def test_environment_values_are_parsed(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KEYSTEAD_INSECURE_HTTP", "true")
    monkeypatch.setenv("KEYSTEAD_MAX_REQUEST_BYTES", "2048")
    monkeypatch.setenv("KEYSTEAD_DATA_DIR", str(tmp_path))
    monkeypatch.setenv("KEYSTEAD_DATABASE_URL", DB_URL)
    settings = load_settings()
    assert settings.insecure_http is True
    assert settings.max_request_bytes == 2048
    assert settings.data_dir == tmp_path
    assert settings.database_url_value == DB_URL


def test_settings_are_frozen() -> None:
    settings = load_settings()
    with pytest.raises(ValueError, match="frozen"):
        settings.log_level = "debug"  # type: ignore[misc]


# --- dev mode ---------------------------------------------------------------------------


def test_dev_without_data_dir_uses_the_dev_directory() -> None:
    settings = load_settings(dev=True)
    assert settings.dev is True
    assert settings.data_dir == DEV_DATA_DIR == Path(".keystead-dev")


def test_dev_keeps_a_data_dir_flag(tmp_path: Path) -> None:
    assert load_settings(dev=True, data_dir=tmp_path).data_dir == tmp_path


def test_dev_keeps_a_data_dir_from_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("KEYSTEAD_DATA_DIR", str(tmp_path / "env"))
    assert load_settings(dev=True).data_dir == tmp_path / "env"


def test_dev_keeps_a_data_dir_from_the_toml_file(tmp_path: Path) -> None:
    path = _toml(tmp_path, f'data_dir = "{tmp_path / "file"}"\n')
    assert load_settings(path, dev=True).data_dir == tmp_path / "file"


def test_dev_from_the_environment_uses_the_dev_directory(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KEYSTEAD_DEV", "1")
    assert load_settings().data_dir == DEV_DATA_DIR


# --- client-side KEYSTEAD_* variables ----------------------------------------------------


def test_client_environment_variables_do_not_break_loading(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KEYSTEAD_ADDR", "https://keystead.example:8200")
    monkeypatch.setenv("KEYSTEAD_TOKEN", "kst_client_token")
    monkeypatch.setenv("KEYSTEAD_CACERT", "/etc/keystead/ca.pem")
    monkeypatch.setenv("KEYSTEAD_CONFIG", "/does/not/exist.toml")
    monkeypatch.setenv("KEYSTEAD_LISTEN", "127.0.0.1:9300")
    settings = load_settings()
    assert settings.listen == "127.0.0.1:9300"
    assert "kst_client_token" not in repr(settings)


# --- bad values name the setting -------------------------------------------------------


@pytest.mark.parametrize(
    ("listen", "detail"),
    [
        ("nonsense", "HOST:PORT"),
        ("127.0.0.1:0", "port"),
        ("127.0.0.1:70000", "port"),
        ("127.0.0.1:", "HOST:PORT"),
        (":8200", "HOST:PORT"),
        ("127.0.0.1:http", "HOST:PORT"),
        ("127.0.0.1:-1", "HOST:PORT"),
    ],
)
def test_bad_listen_names_the_setting(listen: str, detail: str) -> None:
    message = _problem(listen=listen)
    assert message.startswith("listen:")
    assert detail in message


def test_bad_listen_from_the_environment_names_the_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("KEYSTEAD_LISTEN", "nonsense")
    assert _problem().startswith("listen:")


def test_unknown_key_in_the_toml_file_is_named(tmp_path: Path) -> None:
    path = _toml(tmp_path, 'listen = "127.0.0.1:8200"\nlisten_port = 8200\n')
    message = _problem(path)
    assert "listen_port" in message


@pytest.mark.parametrize("level", ["verbose", "DEBUG", "trace", ""])
def test_bad_log_level_is_named(level: str) -> None:
    assert "log_level" in _problem(log_level=level)


def test_bad_log_level_in_the_toml_file_is_named(tmp_path: Path) -> None:
    assert "log_level" in _problem(_toml(tmp_path, 'log_level = "loud"\n'))


def test_bad_log_format_is_named() -> None:
    assert "log_format" in _problem(log_format="xml")


def test_missing_config_file_is_named(tmp_path: Path) -> None:
    missing = tmp_path / "nope.toml"
    message = _problem(missing)
    assert message.startswith("config:")
    assert str(missing) in message


def test_a_directory_as_config_file_is_refused(tmp_path: Path) -> None:
    assert _problem(tmp_path).startswith("config:")


@pytest.mark.parametrize(
    "text",
    [
        'listen = "127.0.0.1:8200\n',
        "listen = \n",
        "[section\n",
        "= 1\n",
        "log_level = 1\nlog_level = 2\n",
    ],
)
def test_malformed_toml_is_named(tmp_path: Path, text: str) -> None:
    path = _toml(tmp_path, text)
    message = _problem(path)
    assert message.startswith("config:")
    assert str(path) in message


@pytest.mark.parametrize("size", [0, 1, 1023, -5])
def test_max_request_bytes_too_small_is_named(size: int) -> None:
    message = _problem(max_request_bytes=size)
    assert "max_request_bytes" in message
    assert "1024" in message


def test_max_request_bytes_too_large_is_named() -> None:
    assert "max_request_bytes" in _problem(max_request_bytes=64 * 1024 * 1024 + 1)


def test_max_request_bytes_bounds_are_accepted() -> None:
    assert load_settings(max_request_bytes=1024).max_request_bytes == 1024
    big = 64 * 1024 * 1024
    assert load_settings(max_request_bytes=big).max_request_bytes == big


@pytest.mark.parametrize("level", ["verbose", "", 3])
def test_bad_log_format_value_is_named(level: object) -> None:
    assert "log_format" in _problem(log_format=level)


def test_unknown_flag_is_named() -> None:
    assert "colour" in _problem(colour="blue")


def test_every_problem_is_named() -> None:
    message = _problem(listen="nonsense", log_level="loud")
    assert "listen:" in message
    assert "log_level:" in message


# --- listen parsing ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected", "normalised"),
    [
        ("127.0.0.1:8200", ("127.0.0.1", 8200), "127.0.0.1:8200"),
        ("0.0.0.0:1", ("0.0.0.0", 1), "0.0.0.0:1"),  # noqa: S104 - a value under test
        ("localhost:65535", ("localhost", 65535), "localhost:65535"),
        ("[::1]:8200", ("::1", 8200), "[::1]:8200"),
        ("[::]:443", ("::", 443), "[::]:443"),
        ("keystead.example:8200", ("keystead.example", 8200), "keystead.example:8200"),
    ],
)
def test_split_listen(value: str, expected: tuple[str, int], normalised: str) -> None:
    assert split_listen(value) == expected
    settings = load_settings(listen=value)
    assert settings.listen == normalised
    assert (settings.host, settings.port) == expected


@pytest.mark.parametrize("value", ["nonsense", "host:0", "host:70000", "host:", ":80", "[]:80"])
def test_split_listen_refuses(value: str) -> None:
    with pytest.raises(ValueError, match=r"HOST:PORT|port"):
        split_listen(value)


@pytest.mark.parametrize(
    ("host", "loopback"),
    [
        ("localhost", True),
        ("127.0.0.1", True),
        ("127.1.2.3", True),
        ("::1", True),
        ("0.0.0.0", False),  # noqa: S104 - a value under test
        ("::", False),
        ("10.0.0.1", False),
        ("keystead.example", False),
        ("localhost.example", False),
        ("", False),
    ],
)
def test_is_loopback(host: str, loopback: bool) -> None:
    assert is_loopback(host) is loopback


# --- check_server_settings ---------------------------------------------------------------


def _server(tmp_path: Path, **flags: object) -> Settings:
    return load_settings(None, data_dir=tmp_path / "data", **flags)


@pytest.mark.parametrize("listen", ["0.0.0.0:8200", "[::]:8200", "10.1.2.3:8200", "example.org:80"])
def test_insecure_http_off_loopback_is_refused(tmp_path: Path, listen: str) -> None:
    settings = _server(tmp_path, insecure_http=True, listen=listen)
    with pytest.raises(ConfigurationError, match=r"^insecure_http:"):
        check_server_settings(settings)


def test_insecure_http_off_loopback_is_refused_in_dev_mode_too(tmp_path: Path) -> None:
    settings = _server(tmp_path, insecure_http=True, dev=True, listen="0.0.0.0:8200")
    with pytest.raises(ConfigurationError, match=r"^insecure_http:"):
        check_server_settings(settings)


@pytest.mark.parametrize("listen", ["127.0.0.1:8200", "[::1]:8200", "localhost:8200"])
def test_insecure_http_on_loopback_is_accepted(tmp_path: Path, listen: str) -> None:
    check_server_settings(_server(tmp_path, insecure_http=True, listen=listen))


@pytest.mark.parametrize(
    "tls",
    [{}, {"tls_cert": "cert.pem"}, {"tls_key": "key.pem"}],
    ids=["neither", "cert-only", "key-only"],
)
def test_no_tls_without_dev_or_insecure_is_refused(tmp_path: Path, tls: dict[str, str]) -> None:
    settings = _server(tmp_path, **tls)
    with pytest.raises(ConfigurationError, match=r"^tls_cert:"):
        check_server_settings(settings)


def test_tls_cert_and_key_are_accepted(tmp_path: Path) -> None:
    settings = _server(tmp_path, tls_cert="cert.pem", tls_key="key.pem", listen="0.0.0.0:8200")
    check_server_settings(settings)


def test_dev_mode_needs_no_tls(tmp_path: Path) -> None:
    check_server_settings(_server(tmp_path, dev=True))


def test_a_data_dir_that_is_a_file_is_refused(tmp_path: Path) -> None:
    data_file = tmp_path / "data"
    data_file.write_text("not a directory", encoding="utf-8")
    settings = load_settings(data_dir=data_file, insecure_http=True)
    with pytest.raises(ConfigurationError, match=r"^data_dir:"):
        check_server_settings(settings)


def test_an_existing_or_missing_data_dir_is_accepted(tmp_path: Path) -> None:
    check_server_settings(load_settings(data_dir=tmp_path, insecure_http=True))
    check_server_settings(load_settings(data_dir=tmp_path / "later", insecure_http=True))


# --- the database URL ------------------------------------------------------------------


def test_database_url_is_not_in_the_repr(monkeypatch: pytest.MonkeyPatch) -> None:
    for settings in (
        load_settings(database_url=DB_URL),
        _with_env_database_url(monkeypatch),
    ):
        for text in (repr(settings), str(settings), repr(settings.model_dump())):
            assert DB_PASSWORD not in text
            assert DB_URL not in text
        assert settings.database_url_value == DB_URL


def _with_env_database_url(monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("KEYSTEAD_DATABASE_URL", DB_URL)
    return load_settings()


def test_database_url_value_defaults_to_sqlite_in_the_data_dir(tmp_path: Path) -> None:
    settings = load_settings(data_dir=tmp_path / "data")
    assert (
        settings.database_url_value == f"sqlite:///{(tmp_path / 'data' / 'keystead.db').resolve()}"
    )


def test_database_url_value_is_absolute_for_a_relative_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    settings = load_settings(dev=True)
    expected = (tmp_path / ".keystead-dev" / "keystead.db").resolve()
    assert settings.database_url_value == f"sqlite:///{expected}"
