"""``keystead exchange serve`` refuses settings that would expose it, before it starts."""

from __future__ import annotations

from pathlib import Path

import pytest

from cli_harness import run


@pytest.fixture
def token_file(tmp_path: Path) -> Path:
    path = tmp_path / "exchange-token"
    path.write_text("kst_not_a_real_token\n")
    path.chmod(0o600)
    return path


def _serve(tmp_path: Path, *extra: str) -> tuple[int, str]:
    result = run("exchange", "serve", "--data-dir", str(tmp_path / "data"), *extra)
    return result.exit_code, " ".join(result.output.split())


def test_a_missing_token_file_is_named(tmp_path: Path) -> None:
    code, output = _serve(tmp_path, "--keystead-token-file", str(tmp_path / "none"))
    assert code == 2
    assert "keystead_token_file:" in output
    assert "keystead exchange setup" in output


def test_a_token_file_others_can_read_is_refused(tmp_path: Path, token_file: Path) -> None:
    token_file.chmod(0o644)
    code, output = _serve(tmp_path, "--keystead-token-file", str(token_file))
    assert code == 2
    assert "readable by other users" in output
    assert "kst_not_a_real_token" not in output


def test_plain_http_is_for_loopback_only(tmp_path: Path, token_file: Path) -> None:
    code, output = _serve(tmp_path, "--keystead-token-file", str(token_file),
                          "--insecure-http", "--host", "0.0.0.0")  # noqa: S104 - the point  # fmt: skip
    assert code == 2
    assert "insecure_http: plain HTTP is for loopback only" in output


def test_a_bad_setting_is_named(tmp_path: Path, token_file: Path) -> None:
    code, output = _serve(tmp_path, "--keystead-token-file", str(token_file), "--port", "70000")
    assert code == 2
    assert output.startswith("Error: port:")
