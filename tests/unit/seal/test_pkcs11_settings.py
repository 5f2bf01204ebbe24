"""The seal settings: flags, TOML and KEYSTEAD_* variables; bad combinations name the setting."""

from __future__ import annotations

from pathlib import Path

import pytest

from keystead.config import check_seal_settings, check_server_settings, load_settings
from keystead.errors import ConfigurationError

MODULE = Path("/usr/lib/softhsm/libsofthsm2.so")
GOOD = {
    "seal": "pkcs11", "pkcs11_module": MODULE, "pkcs11_token_label": "kms",
    "pkcs11_pin": "1234-secret",
}  # fmt: skip


def test_every_seal_setting_comes_from_toml_and_the_environment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    config = tmp_path / "keystead.toml"
    config.write_text(
        'seal = "pkcs11"\n'
        f'pkcs11_module = "{MODULE}"\n'
        'pkcs11_token_label = "from-toml"\n'
        'pkcs11_pin = "toml-pin"\n'
        'pkcs11_key_label = "root-2026"\n'
        "pkcs11_retry_seconds = 2.5\n",
        encoding="utf-8",
    )
    settings = load_settings(config)
    assert (settings.seal, settings.pkcs11_module, settings.pkcs11_token_label) == (
        "pkcs11", MODULE, "from-toml",
    )  # fmt: skip
    assert settings.pkcs11_pin_value.get_secret_value() == "toml-pin"
    assert (settings.pkcs11_key_label, settings.pkcs11_retry_seconds) == ("root-2026", 2.5)
    monkeypatch.setenv("KEYSTEAD_PKCS11_TOKEN_LABEL", "from-env")
    monkeypatch.setenv("KEYSTEAD_MIGRATE_SEAL", "true")
    settings = load_settings(config)
    assert settings.pkcs11_token_label == "from-env"
    assert settings.migrate_seal is True
    flagged = load_settings(config, pkcs11_token_label="from-flag")
    assert flagged.pkcs11_token_label == "from-flag"
    assert "toml-pin" not in repr(settings)


def test_the_pin_file_gives_its_first_line(tmp_path: Path) -> None:
    pin_file = tmp_path / "pin"
    pin_file.write_text("  s3cret-pin \nignored\n", encoding="utf-8")
    options = {**GOOD, "pkcs11_pin": None, "pkcs11_pin_file": pin_file}
    settings = load_settings(data_dir=tmp_path, **options)
    check_seal_settings(settings)
    assert settings.pkcs11_pin_value.get_secret_value() == "s3cret-pin"


@pytest.mark.parametrize(
    ("options", "named"),
    [
        ({"pkcs11_module": None}, "pkcs11_module:"),
        ({"pkcs11_token_label": None}, "pkcs11_token_label:"),
        ({"pkcs11_pin": None}, "pkcs11_pin:"),
        ({"pkcs11_pin_file": Path("/nonexistent/pin")}, "pkcs11_pin:"),
        ({"pkcs11_pin": None, "pkcs11_pin_file": Path("/nonexistent/pin")}, "pkcs11_pin_file:"),
        ({"seal": "shamir"}, "pkcs11_module:"),
        ({"seal": "shamir", "pkcs11_module": None}, "pkcs11_token_label:"),
        ({"dev": True}, "seal:"),
        ({"migrate_seal": True, "workers": 2}, "migrate_seal:"),
    ],
)
def test_bad_combinations_name_the_setting(tmp_path: Path, options: dict, named: str) -> None:
    settings = load_settings(data_dir=tmp_path, insecure_http=True, **{**GOOD, **options})
    with pytest.raises(ConfigurationError) as caught:
        check_server_settings(settings)
    assert caught.value.public_detail.startswith(named), caught.value.public_detail
    assert "1234-secret" not in caught.value.public_detail


@pytest.mark.parametrize("content", ["", "\n", "   \n"])
def test_an_empty_pin_file_is_refused(tmp_path: Path, content: str) -> None:
    pin_file = tmp_path / "pin"
    pin_file.write_text(content, encoding="utf-8")
    settings = load_settings(data_dir=tmp_path, **{**GOOD, "pkcs11_pin": None,
                                                    "pkcs11_pin_file": pin_file})  # fmt: skip
    with pytest.raises(ConfigurationError, match=r"pkcs11_pin_file: .* is empty"):
        check_seal_settings(settings)


def test_shamir_migrating_from_pkcs11_and_pkcs11_with_workers_are_fine(tmp_path: Path) -> None:
    check_server_settings(load_settings(data_dir=tmp_path, insecure_http=True))
    back = load_settings(data_dir=tmp_path, insecure_http=True,
                         **{**GOOD, "seal": "shamir", "migrate_seal": True})  # fmt: skip
    check_server_settings(back)
    workers = load_settings(data_dir=tmp_path, insecure_http=True, workers=4, **GOOD)
    check_server_settings(workers)
    with pytest.raises(ConfigurationError, match=r"^workers:"):
        check_server_settings(load_settings(data_dir=tmp_path, insecure_http=True, workers=2))


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("seal", "vault"),
        ("pkcs11_retry_seconds", 0),
        ("pkcs11_key_label", ""),
        ("pkcs11_token_label", "x" * 33),
    ],
)
def test_invalid_values_name_the_setting(tmp_path: Path, name: str, value: object) -> None:
    with pytest.raises(ConfigurationError, match=f"^{name}:"):
        load_settings(data_dir=tmp_path, **{name: value})
