"""Optional mutual TLS (issue 4): a client certificate signed by the configured CA is a user."""

from __future__ import annotations

import ssl
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from server_process import ServerProcess
from server_process import production_server as make_production_server

pytestmark = pytest.mark.e2e
PASSWORD = "correct horse battery staple"


def _name(common_name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])


def _certificate(
    subject: str,
    key: ec.EllipticCurvePrivateKey,
    issuer: tuple[x509.Name, ec.EllipticCurvePrivateKey] | None,
) -> x509.Certificate:
    now = datetime.now(UTC)
    issuer_name, issuer_key = issuer or (_name(subject), key)
    builder = (
        x509.CertificateBuilder()
        .subject_name(_name(subject))
        .issuer_name(issuer_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.BasicConstraints(ca=issuer is None, path_length=None), critical=True)
    )
    return builder.sign(issuer_key, hashes.SHA256())


def _pki(directory: Path, users: list[str]) -> dict[str, tuple[Path, Path]]:
    """A CA in ``directory/ca.pem`` and one client certificate and key per user."""
    directory.mkdir(parents=True, exist_ok=True)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _certificate(f"{directory.name} CA", ca_key, None)
    (directory / "ca.pem").write_bytes(ca.public_bytes(serialization.Encoding.PEM))
    files = {}
    for user in users:
        key = ec.generate_private_key(ec.SECP256R1())
        cert = _certificate(user, key, (ca.subject, ca_key))
        cert_path, key_path = directory / f"{user}.pem", directory / f"{user}.key"
        cert_path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        key_path.write_bytes(
            key.private_bytes(
                serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            )
        )  # fmt: skip
        files[user] = (cert_path, key_path)
    return files


def _client(server: ServerProcess, cert: tuple[Path, Path] | None) -> httpx.Client:
    context = ssl.create_default_context(cafile=str(server.ca_file))
    if cert is not None:
        context.load_cert_chain(str(cert[0]), str(cert[1]))
    return httpx.Client(base_url=server.address, verify=context, timeout=10)


def test_a_client_certificate_from_the_configured_ca_logs_its_user_in(tmp_path: Path) -> None:
    trusted = _pki(tmp_path / "trusted", ["alice", "mallory"])
    foreign = _pki(tmp_path / "foreign", ["alice"])
    server = make_production_server(tmp_path)
    server.args = [*server.args, "--client-ca", str(tmp_path / "trusted" / "ca.pem")]
    server.start()
    try:
        with _client(server, None) as anonymous:
            init = anonymous.post("/v1/sys/init", json={"shares": 1, "threshold": 1}).json()
            anonymous.post("/v1/sys/unseal", json={"share": init["shares"][0]})
            root = {"authorization": f"Bearer {init['root_token']}"}
            alice_body = {"username": "alice", "password": PASSWORD, "roles": ["key-user"]}
            made = anonymous.post("/v1/users", json=alice_body, headers=root)
            assert made.status_code == 201, made.text
            # Without a certificate, tokens still work and nothing else does.
            assert anonymous.get("/v1/auth/whoami", headers=root).status_code == 200
            assert anonymous.get("/v1/auth/whoami").status_code == 401
        with _client(server, trusted["alice"]) as alice:
            whoami = alice.get("/v1/auth/whoami")
            assert whoami.status_code == 200, whoami.text
            assert (whoami.json()["name"], whoami.json()["kind"]) == ("alice", "certificate")
            assert whoami.json()["roles"] == ["key-user"]
            signed = alice.post("/v1/keys/user:alice/sign", json={"message": "aGk="})
            assert signed.status_code == 200, signed.text
            # A bearer token, when given, is what counts.
            assert alice.get("/v1/users", headers=root).status_code == 200
        with _client(server, trusted["mallory"]) as mallory:  # a good certificate, no such user
            assert mallory.get("/v1/auth/whoami").status_code == 401
        with _client(server, foreign["alice"]) as impostor, pytest.raises(httpx.TransportError):
            impostor.get("/v1/auth/whoami")
    finally:
        assert server.stop() == 0
