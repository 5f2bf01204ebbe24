"""``keystead backup create | verify | restore`` against two real in-process servers.

The CLI's client is an SDK client on each server's own test transport, so every command here
runs the whole way: CLI, SDK, HTTP API, services, database.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from cli_harness import mode, plain_terminal, run
from identity_support import Server, forwarding_transport, running
from keystead.cli import client as cli_client
from keystead.config import load_settings
from keystead_sdk import Client

__all__ = ["plain_terminal"]

PASSPHRASE = "the CLI's backup passphrase"


def _settings(path: Path) -> object:
    return load_settings(
        data_dir=path, insecure_http=True, backup_argon2_memory_kib=8192,
        backup_argon2_time_cost=1, backup_argon2_parallelism=1,
    )  # fmt: skip


@pytest.fixture
def servers(tmp_path: Path) -> Iterator[dict[str, Server]]:
    with (
        running(_settings(tmp_path / "a")) as source,  # type: ignore[arg-type]
        running(_settings(tmp_path / "b")) as target,  # type: ignore[arg-type]
    ):
        yield {"source": source, "target": target}


@pytest.fixture
def use(servers: dict[str, Server], monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """Which server the next command talks to: ``use["server"] = "target"``."""
    chosen = {"server": "source"}

    def make_client(token: str | None = None, *, use_saved: bool = True) -> Client:
        del token, use_saved
        server = servers[chosen["server"]]
        root = server.root["authorization"].removeprefix("Bearer ")
        return Client("https://t", token=root, transport=forwarding_transport(server))

    monkeypatch.setattr(cli_client, "make_client", make_client)
    return chosen


@pytest.fixture
def passphrase_file(tmp_path: Path) -> Path:
    path = tmp_path / "passphrase"
    path.write_text(PASSPHRASE + "\n")
    return path


def _keys(server: Server, *names: str) -> None:
    for name in names:
        made = server.as_root("POST", "/v1/keys", {"name": name, "spec": "AES_256_GCM"})
        assert made.status_code == 201, made.text


def _json(output: str) -> dict:
    """The JSON object a command printed (the in-process server's debug lines share stdout)."""
    found, _ = json.JSONDecoder().raw_decode(output[output.index("{\n") :])
    return found


def _clean(result: object, code: int) -> str:
    output: str = result.output  # type: ignore[attr-defined]
    assert result.exit_code == code, output  # type: ignore[attr-defined]
    assert "Traceback" not in output
    assert PASSPHRASE not in output
    return output


def test_create_verify_restore(
    servers: dict[str, Server], use: dict[str, str], passphrase_file: Path, tmp_path: Path
) -> None:
    source, target = servers["source"], servers["target"]
    _keys(source, "orders", "invoices")
    blob = source.as_root(
        "POST", "/v1/keys/orders/encrypt", {"plaintext": base64.b64encode(b"hi").decode()}
    ).json()["ciphertext"]
    archive = tmp_path / "keystead.backup"

    made = _clean(run("backup", "create", "--out", str(archive),
                      "--passphrase-file", str(passphrase_file)), 0)  # fmt: skip
    assert "Backed up 2 keys" in made
    assert mode(archive) == 0o600
    signer = made.split("Signer: ")[1].split()[0]

    sealed = _clean(run("backup", "verify", str(archive), "--signer", signer), 0)
    assert "valid: 2 keys" in sealed
    assert "records sealed" in sealed
    opened = _clean(run("backup", "verify", str(archive), "--passphrase-file",
                        str(passphrase_file), "--format", "json"), 0)  # fmt: skip
    facts = _json(opened)
    assert (facts["keys"], facts["specs"], facts["protection"]) == (
        2, {"AES_256_GCM": 2}, "passphrase",
    )  # fmt: skip

    use["server"] = "target"
    restored = _clean(run("backup", "restore", str(archive), "--passphrase-file",
                          str(passphrase_file), "--format", "json"), 0)  # fmt: skip
    assert sorted(_json(restored)["restored"]) == ["invoices", "orders"]
    opened_blob = target.as_root("POST", "/v1/decrypt", {"ciphertext": blob}).json()
    assert base64.b64decode(opened_blob["plaintext"]) == b"hi"
    again = _clean(run("backup", "restore", str(archive), "--passphrase-file",
                       str(passphrase_file)), 0)  # fmt: skip
    assert "skipped" in again
    assert "invoices" in again


@pytest.mark.usefixtures("use")
def test_verify_names_the_fault_and_exits_11(
    servers: dict[str, Server], passphrase_file: Path, tmp_path: Path
) -> None:
    _keys(servers["source"], "one")
    archive = tmp_path / "b.kst"
    _clean(run("backup", "create", "--out", str(archive), "--passphrase-file",
               str(passphrase_file)), 0)  # fmt: skip
    data = archive.read_bytes()
    archive.write_bytes(data[:-10])
    cut = _clean(run("backup", "verify", str(archive)), 11)
    assert "BackupInvalid" in cut
    assert "truncated" in cut
    archive.write_bytes(data)
    wrong = tmp_path / "wrong"
    wrong.write_text("another passphrase, not this one\n")
    locked = _clean(run("backup", "verify", str(archive), "--passphrase-file", str(wrong)), 11)
    assert "BackupUnlockFailed" in locked
    other = _clean(run("backup", "verify", str(archive), "--signer", "ab" * 32), 11)
    assert "SignerMismatch" in other


def test_restore_refused_changes_nothing_and_exits_3(
    use: dict[str, str], servers: dict[str, Server], passphrase_file: Path, tmp_path: Path
) -> None:
    _keys(servers["source"], "one")
    archive = tmp_path / "b.kst"
    _clean(run("backup", "create", "--out", str(archive), "--passphrase-file",
               str(passphrase_file)), 0)  # fmt: skip
    use["server"] = "target"
    wrong = tmp_path / "wrong"
    wrong.write_text("another passphrase, not this one\n")
    refused = _clean(run("backup", "restore", str(archive), "--passphrase-file", str(wrong)), 3)
    assert "BackupUnlockFailed" in refused
    listed = servers["target"].as_root("GET", "/v1/keys").json()["keys"]
    assert listed == []


def test_a_recipient_backup_restores_with_the_target_key(
    use: dict[str, str], servers: dict[str, Server], tmp_path: Path
) -> None:
    source, target = servers["source"], servers["target"]
    _keys(source, "moving")
    made = target.as_root("POST", "/v1/keys", {"name": "recipient", "spec": "X25519"})
    assert made.status_code == 201
    pem = target.as_root("GET", "/v1/keys/recipient/public-key?format=pem").json()["public_key"]
    (tmp_path / "recipient.pem").write_text(pem)
    archive = tmp_path / "for-target.kst"
    _clean(run("backup", "create", "--out", str(archive), "--recipient",
               str(tmp_path / "recipient.pem")), 0)  # fmt: skip
    verified = _clean(run("backup", "verify", str(archive)), 0)
    assert "protection: recipient" in verified
    use["server"] = "target"
    restored = _clean(run("backup", "restore", str(archive), "--recipient-key", "recipient"), 0)
    assert "restored" in restored
    assert "moving" in restored


def test_passphrase_and_recipient_are_alternatives(tmp_path: Path, passphrase_file: Path) -> None:
    both = run("backup", "create", "--out", str(tmp_path / "x"), "--passphrase-file",
               str(passphrase_file), "--recipient", str(passphrase_file))  # fmt: skip
    assert both.exit_code == 2
    assert "alternatives" in both.output
