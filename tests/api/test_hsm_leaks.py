"""The PIN and the recovery shares never reach a log, a repr, an error or the audit log."""

from __future__ import annotations

import base64
import sqlite3
from pathlib import Path

import pytest
from pydantic import SecretStr
from starlette.testclient import TestClient

from hsm_support import SoftHSM, failing, pkcs11_settings, wait_for_seal
from keystead.api.app import create_app
from keystead.config import load_settings
from keystead.errors import HSMError
from keystead.seal.pkcs11_token import PKCS11Token

pytestmark = pytest.mark.hsm

WRONG_PIN = "wrong-pin-31337"


def _forms(secret: bytes) -> list[str]:
    return [
        base64.b64encode(secret).decode(), secret.hex(), secret.hex().upper(),
        base64.urlsafe_b64encode(secret).decode().rstrip("="),
    ]  # fmt: skip


def test_no_pin_or_share_in_logs_answers_reprs_or_audit(
    tmp_path: Path, softhsm: SoftHSM, configured_logging, capsys: pytest.CaptureFixture[str]
) -> None:
    configured_logging("debug", "json")
    settings = load_settings(
        data_dir=tmp_path / "data", insecure_http=True, **pkcs11_settings(softhsm)
    )
    answers: list[str] = []
    with TestClient(create_app(settings), base_url="https://testserver") as client:
        init = client.post("/v1/sys/init", json={"recovery_shares": 3, "recovery_threshold": 2})
        body = init.json()
        shares, auth = body["recovery_shares"], {"authorization": f"Bearer {body['root_token']}"}
        answers.append(client.post("/v1/sys/seal", headers=auth).text)
        answers.extend(
            client.post("/v1/sys/unseal", json={"share": share}).text for share in shares[:2]
        )
        answers.extend(
            client.post("/v1/sys/generate-root", json={"share": share}).text for share in shares[1:]
        )
        answers.append(client.get("/v1/sys/seal-status").text)
        services = client.app.state.services  # type: ignore[attr-defined]
        reprs = [repr(settings), str(settings), repr(services.seal), repr(services.seal.hsm),
                 repr(services.seal.hsm.token), repr(services.barrier)]  # fmt: skip
    wrong = settings.model_copy(update={"pkcs11_pin": SecretStr(WRONG_PIN)})
    with TestClient(create_app(wrong), base_url="https://testserver") as client:
        answers.append(str(wait_for_seal(client, failing)))
        answers.append(client.get("/v1/sys/health").text)
    with sqlite3.connect(settings.data_dir / "keystead.db") as db:
        audit = "\n".join(row for (row,) in db.execute("SELECT body FROM audit_log"))
    assert "sys.init" in audit
    logs = capsys.readouterr()
    haystack = "\n".join([logs.out, logs.err, audit, *answers, *reprs])
    assert "the pkcs11 seal cannot unseal" in haystack  # the log was captured
    for pin in (softhsm.pin, WRONG_PIN):
        assert pin not in haystack
    for share in shares:
        raw = base64.b64decode(share)
        for form in (*_forms(raw), *_forms(raw[:-1])):
            assert form not in haystack


def test_token_errors_name_settings_never_the_pin(softhsm: SoftHSM) -> None:
    token = PKCS11Token(softhsm.module, softhsm.token_label, SecretStr(WRONG_PIN))
    with pytest.raises(HSMError) as caught:
        token.connect()
    error = caught.value
    assert error.code == "HSMUnavailable"
    assert error.retry is False
    assert "pkcs11_pin" in error.public_detail
    for text in (error.public_detail, error.operator_detail, str(error), repr(error),
                 repr(token)):  # fmt: skip
        assert WRONG_PIN not in text
        assert softhsm.pin not in text
