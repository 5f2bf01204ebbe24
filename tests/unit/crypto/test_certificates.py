"""Tests for keystead.crypto.certificates: dev CA issuance, reuse, renewal and pair checks."""

from __future__ import annotations

import ipaddress
import socket
import ssl
import stat
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID

from keystead.crypto.certificates import (
    DEFAULT_HOSTS,
    PemFiles,
    check_certificate_pair,
    ensure_dev_certificates,
    hosts_to_cover,
)
from keystead.errors import ConfigurationError

if TYPE_CHECKING:
    from pathlib import Path

HANDSHAKE_TIMEOUT = 10.0


def _load(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _contents(files: PemFiles) -> tuple[bytes, bytes, bytes]:
    return (
        files.ca_cert.read_bytes(),
        files.server_cert.read_bytes(),
        files.server_key.read_bytes(),
    )


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def files(tmp_path: Path) -> PemFiles:
    return ensure_dev_certificates(tmp_path)


# --- ensure_dev_certificates: files and modes ---------------------------------------


def test_files_are_created_in_tls_dir_with_modes(tmp_path: Path, files: PemFiles) -> None:
    tls = tmp_path / "tls"
    assert files == PemFiles(tls / "ca.pem", tls / "server.pem", tls / "server-key.pem")
    assert _mode(tls) == 0o700
    assert _mode(files.server_key) == 0o600
    assert _mode(files.server_cert) == 0o644
    assert _mode(files.ca_cert) == 0o644
    assert sorted(p.name for p in tls.iterdir()) == ["ca.pem", "server-key.pem", "server.pem"]


def test_server_key_is_unencrypted_pkcs8_ec_p256(files: PemFiles) -> None:
    pem = files.server_key.read_bytes()
    assert pem.startswith(b"-----BEGIN PRIVATE KEY-----")
    key = serialization.load_pem_private_key(pem, password=None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    assert isinstance(key.curve, ec.SECP256R1)


def test_no_ca_private_key_on_disk(files: PemFiles) -> None:
    for path in files.ca_cert.parent.iterdir():
        if path != files.server_key:
            assert b"PRIVATE KEY" not in path.read_bytes()


def test_existing_key_file_with_wide_mode_is_tightened(tmp_path: Path) -> None:
    tls = tmp_path / "tls"
    tls.mkdir(mode=0o755)
    key_path = tls / "server-key.pem"
    key_path.write_bytes(b"stale")
    key_path.chmod(0o644)
    files = ensure_dev_certificates(tmp_path)
    assert _mode(files.server_key) == 0o600
    assert _mode(tls) == 0o700


def test_second_call_does_not_regenerate(tmp_path: Path, files: PemFiles) -> None:
    before = _contents(files)
    again = ensure_dev_certificates(tmp_path)
    assert again == files
    assert _contents(again) == before


def test_missing_file_regenerates_everything(tmp_path: Path, files: PemFiles) -> None:
    before = _contents(files)
    files.ca_cert.unlink()
    _contents(ensure_dev_certificates(tmp_path))
    after = _contents(files)
    assert all(old != new for old, new in zip(before, after, strict=True))


def test_garbage_file_regenerates_everything(tmp_path: Path, files: PemFiles) -> None:
    before = _contents(files)
    files.server_cert.write_bytes(b"not a certificate")
    ensure_dev_certificates(tmp_path)
    after = _contents(files)
    assert all(old != new for old, new in zip(before, after, strict=True))
    _load(files.server_cert).verify_directly_issued_by(_load(files.ca_cert))


def test_key_from_another_pair_regenerates(tmp_path: Path, files: PemFiles) -> None:
    other = ensure_dev_certificates(tmp_path / "other")
    files.server_key.write_bytes(other.server_key.read_bytes())
    before = _contents(files)
    ensure_dev_certificates(tmp_path)
    assert _contents(files) != before
    check_certificate_pair(files.server_cert, files.server_key)


def test_uncovered_host_regenerates(tmp_path: Path, files: PemFiles) -> None:
    before = _contents(files)
    ensure_dev_certificates(tmp_path, ("127.0.0.1", "keystead.test"))
    assert _contents(files) != before
    names = _load(files.server_cert).extensions.get_extension_for_class(x509.SubjectAlternativeName)
    assert names.value.get_values_for_type(x509.DNSName) == ["keystead.test"]
    # A subset of the covered hosts is still covered: nothing is reissued.
    before = _contents(files)
    ensure_dev_certificates(tmp_path, ("keystead.test",))
    assert _contents(files) == before


def test_expiring_certificate_is_regenerated(tmp_path: Path) -> None:
    real_now = datetime.now(UTC)
    files = ensure_dev_certificates(tmp_path, now=real_now - timedelta(days=360))
    before = _contents(files)
    # Still valid for 5 days from the real now, which is inside the 30-day window.
    assert _load(files.server_cert).not_valid_after_utc > real_now
    ensure_dev_certificates(tmp_path, now=real_now)
    assert _contents(files) != before
    assert _load(files.server_cert).not_valid_after_utc > real_now + timedelta(days=300)


def test_certificate_outside_renewal_window_is_kept(tmp_path: Path) -> None:
    real_now = datetime.now(UTC)
    files = ensure_dev_certificates(tmp_path, now=real_now - timedelta(days=300))
    before = _contents(files)
    ensure_dev_certificates(tmp_path, now=real_now)
    assert _contents(files) == before


def test_rejects_empty_hosts_and_naive_now(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="hosts"):
        ensure_dev_certificates(tmp_path, ())
    with pytest.raises(ValueError, match="timezone"):
        ensure_dev_certificates(tmp_path, now=datetime(2030, 1, 1))  # noqa: DTZ001


# --- ensure_dev_certificates: certificate contents ----------------------------------


def test_ca_certificate_profile(files: PemFiles) -> None:
    ca = _load(files.ca_cert)
    assert ca.subject == ca.issuer
    assert ca.subject.rfc4514_string() == "CN=Keystead development CA"
    ca.verify_directly_issued_by(ca)
    constraints = ca.extensions.get_extension_for_class(x509.BasicConstraints)
    assert constraints.critical
    assert constraints.value.ca
    assert constraints.value.path_length == 0
    usage = ca.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical
    assert usage.value.key_cert_sign
    assert usage.value.crl_sign
    assert not usage.value.digital_signature
    ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert ski == x509.SubjectKeyIdentifier.from_public_key(ca.public_key())
    lifetime = ca.not_valid_after_utc - ca.not_valid_before_utc
    assert timedelta(days=3649) < lifetime < timedelta(days=3652)
    public_key = ca.public_key()
    assert isinstance(public_key, ec.EllipticCurvePublicKey)
    assert isinstance(public_key.curve, ec.SECP256R1)


def test_server_certificate_profile(files: PemFiles) -> None:
    ca = _load(files.ca_cert)
    server = _load(files.server_cert)
    server.verify_directly_issued_by(ca)
    assert server.subject.rfc4514_string() == "CN=Keystead development server"
    san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert set(san.get_values_for_type(x509.IPAddress)) == {
        ipaddress.ip_address("127.0.0.1"),
        ipaddress.ip_address("::1"),
    }
    assert san.get_values_for_type(x509.DNSName) == ["localhost"]
    eku = server.extensions.get_extension_for_class(x509.ExtendedKeyUsage).value
    assert list(eku) == [ExtendedKeyUsageOID.SERVER_AUTH]
    usage = server.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical
    assert usage.value.digital_signature
    assert not usage.value.key_cert_sign
    assert not server.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    aki = server.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    ca_ski = ca.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.key_identifier == ca_ski.digest
    lifetime = server.not_valid_after_utc - server.not_valid_before_utc
    assert timedelta(days=364) < lifetime <= timedelta(days=398)
    check_certificate_pair(files.server_cert, files.server_key)


def test_now_is_used_for_validity(tmp_path: Path) -> None:
    pinned = datetime(2030, 6, 1, tzinfo=UTC)
    files = ensure_dev_certificates(tmp_path, now=pinned)
    server = _load(files.server_cert)
    assert server.not_valid_before_utc <= pinned < server.not_valid_after_utc
    assert server.not_valid_after_utc == pinned + timedelta(days=365)


# --- a real TLS handshake --------------------------------------------------------------


def _server_side(context: ssl.SSLContext, sock: socket.socket) -> bytes | BaseException:
    try:
        with context.wrap_socket(sock, server_side=True) as tls:
            data = tls.recv(16)
            tls.sendall(data.upper())
            return data
    except (OSError, ssl.SSLError) as exc:
        return exc


def _handshake(files: PemFiles, server_hostname: str) -> tuple[bytes, bytes | BaseException]:
    """Run a TLS handshake over a socket pair; return (client reply, server result)."""
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(files.server_cert, files.server_key)
    client_ctx = ssl.create_default_context(cafile=str(files.ca_cert))
    # Python 3.13 turns on strict verification by default; hold the certificates to it.
    client_ctx.verify_flags |= ssl.VERIFY_X509_STRICT
    assert client_ctx.check_hostname
    assert client_ctx.verify_mode == ssl.CERT_REQUIRED
    server_sock, client_sock = socket.socketpair()
    with server_sock, client_sock, ThreadPoolExecutor(max_workers=1) as pool:
        server_sock.settimeout(HANDSHAKE_TIMEOUT)
        client_sock.settimeout(HANDSHAKE_TIMEOUT)
        server_result = pool.submit(_server_side, server_ctx, server_sock)
        try:
            with client_ctx.wrap_socket(client_sock, server_hostname=server_hostname) as tls:
                tls.sendall(b"ping")
                reply = tls.recv(16)
        finally:
            client_sock.close()
        return reply, server_result.result(timeout=HANDSHAKE_TIMEOUT)


@pytest.mark.parametrize("hostname", ["127.0.0.1", "localhost", "::1"])
def test_tls_client_trusts_server(files: PemFiles, hostname: str) -> None:
    reply, server_result = _handshake(files, hostname)
    assert reply == b"PING"
    assert server_result == b"ping"


def test_tls_client_rejects_uncovered_hostname(files: PemFiles) -> None:
    with pytest.raises(ssl.SSLCertVerificationError, match="mismatch"):
        _handshake(files, "example.com")


def test_tls_client_rejects_server_of_another_ca(tmp_path: Path, files: PemFiles) -> None:
    other = ensure_dev_certificates(tmp_path / "other")
    mixed = PemFiles(other.ca_cert, files.server_cert, files.server_key)
    with pytest.raises(ssl.SSLCertVerificationError):
        _handshake(mixed, "127.0.0.1")


# --- check_certificate_pair ------------------------------------------------------------


def test_check_pair_accepts_matching_pair(files: PemFiles) -> None:
    check_certificate_pair(files.server_cert, files.server_key)


def test_check_pair_missing_cert(tmp_path: Path, files: PemFiles) -> None:
    missing = tmp_path / "nope.pem"
    with pytest.raises(ConfigurationError, match=r"^tls_cert: .*nope\.pem does not exist"):
        check_certificate_pair(missing, files.server_key)


def test_check_pair_missing_key(tmp_path: Path, files: PemFiles) -> None:
    missing = tmp_path / "nope-key.pem"
    with pytest.raises(ConfigurationError, match=r"^tls_key: .*nope-key\.pem does not exist"):
        check_certificate_pair(files.server_cert, missing)


def test_check_pair_unreadable_cert(tmp_path: Path, files: PemFiles) -> None:
    with pytest.raises(ConfigurationError, match=r"^tls_cert: cannot read"):
        check_certificate_pair(tmp_path, files.server_key)


def test_check_pair_garbage_cert(tmp_path: Path, files: PemFiles) -> None:
    garbage = tmp_path / "garbage.pem"
    garbage.write_bytes(b"\x00\x01 definitely not PEM")
    with pytest.raises(ConfigurationError, match=r"^tls_cert: .* is not a PEM certificate"):
        check_certificate_pair(garbage, files.server_key)


def test_check_pair_garbage_key(tmp_path: Path, files: PemFiles) -> None:
    garbage = tmp_path / "garbage-key.pem"
    garbage.write_bytes(b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n")
    with pytest.raises(ConfigurationError, match=r"^tls_key: .* is not a PEM private key"):
        check_certificate_pair(files.server_cert, garbage)


def test_check_pair_certificate_given_as_key(files: PemFiles) -> None:
    with pytest.raises(ConfigurationError, match=r"^tls_key: .* is not a PEM private key"):
        check_certificate_pair(files.server_cert, files.server_cert)


def test_check_pair_encrypted_key(tmp_path: Path, files: PemFiles) -> None:
    key = serialization.load_pem_private_key(files.server_key.read_bytes(), password=None)
    encrypted = tmp_path / "encrypted-key.pem"
    encrypted.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.BestAvailableEncryption(b"passphrase"),
        )
    )
    with pytest.raises(ConfigurationError, match=r"^tls_key: .* is encrypted"):
        check_certificate_pair(files.server_cert, encrypted)


def test_check_pair_mismatched_key(tmp_path: Path, files: PemFiles) -> None:
    other = ensure_dev_certificates(tmp_path / "other")
    with pytest.raises(ConfigurationError, match=r"^tls_key: .* does not match") as caught:
        check_certificate_pair(files.server_cert, other.server_key)
    message = str(caught.value)
    key_body = b"".join(other.server_key.read_bytes().splitlines()[1:-1]).decode()
    assert key_body not in message
    assert "PRIVATE KEY" not in message


def test_check_pair_expired_certificate(tmp_path: Path) -> None:
    old = ensure_dev_certificates(tmp_path, now=datetime.now(UTC) - timedelta(days=2 * 365))
    with pytest.raises(ConfigurationError, match=r"^tls_cert: .* expired on "):
        check_certificate_pair(old.server_cert, old.server_key)


def test_check_pair_not_yet_valid_certificate(tmp_path: Path) -> None:
    future = ensure_dev_certificates(tmp_path, now=datetime.now(UTC) + timedelta(days=30))
    with pytest.raises(ConfigurationError, match=r"^tls_cert: .* is not valid before "):
        check_certificate_pair(future.server_cert, future.server_key)


def test_check_pair_uses_injected_now(files: PemFiles) -> None:
    later = datetime.now(UTC) + timedelta(days=400)
    with pytest.raises(ConfigurationError, match=r"^tls_cert: .* expired on "):
        check_certificate_pair(files.server_cert, files.server_key, now=later)


def test_a_dev_certificate_covers_loopback_and_the_bound_host() -> None:
    for loopback_or_wildcard in ("127.0.0.1", "localhost", "::1", "0.0.0.0", "::"):  # noqa: S104
        assert hosts_to_cover(loopback_or_wildcard) == DEFAULT_HOSTS
    assert hosts_to_cover("kms.internal") == (*DEFAULT_HOSTS, "kms.internal")
