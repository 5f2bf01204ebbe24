"""TLS certificates: a throwaway development CA with a server certificate it signs.

Also checks an operator's certificate and key pair before the server starts.
"""

from __future__ import annotations

import ipaddress
import os
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.exceptions import InvalidSignature, UnsupportedAlgorithm
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from keystead.errors import ConfigurationError

if TYPE_CHECKING:
    from collections.abc import Sequence
    from pathlib import Path

    from cryptography.hazmat.primitives.asymmetric.types import (
        CertificatePublicKeyTypes,
        PrivateKeyTypes,
    )

DEFAULT_HOSTS: tuple[str, ...] = ("127.0.0.1", "localhost", "::1")
CA_COMMON_NAME = "Keystead development CA"
SERVER_COMMON_NAME = "Keystead development server"
CA_VALIDITY = timedelta(days=3650)
# Browsers and the CA/Browser Forum reject TLS server certificates valid longer than
# 398 days (Apple, 2020); one year keeps the development certificate acceptable.
SERVER_VALIDITY = timedelta(days=365)
RENEW_BEFORE = timedelta(days=30)
# Backdating by a few minutes tolerates clocks that are slightly behind ours.
_BACKDATE = timedelta(minutes=5)
_KEY_MODE = 0o600
_CERT_MODE = 0o644
_DIR_MODE = 0o700
_OPEN_FLAGS = os.O_CREAT | os.O_WRONLY | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0)
_UNREADABLE = (
    OSError,
    ValueError,
    TypeError,
    UnsupportedAlgorithm,
    InvalidSignature,
    x509.ExtensionNotFound,
)


@dataclass(frozen=True, slots=True)
class PemFiles:
    """Where the development TLS files live.

    Attributes:
        ca_cert: The PEM certificate of the development CA (give it to clients).
        server_cert: The PEM server certificate, signed by the CA.
        server_key: The server's PKCS#8 PEM private key, readable by the owner only.
    """

    ca_cert: Path
    server_cert: Path
    server_key: Path


def hosts_to_cover(bind_host: str) -> tuple[str, ...]:
    """The names a development certificate must cover for a server bound to ``bind_host``.

    Loopback names always; the bound host too unless it is loopback or a wildcard.
    """
    if bind_host in {*DEFAULT_HOSTS, "0.0.0.0", "::"}:  # noqa: S104 - comparing, not binding
        return DEFAULT_HOSTS
    return (*DEFAULT_HOSTS, bind_host)


def ensure_dev_certificates(
    directory: Path,
    hosts: Sequence[str] = DEFAULT_HOSTS,
    *,
    now: datetime | None = None,
) -> PemFiles:
    """Create a development CA and server certificate in ``directory/tls`` if needed.

    Existing files are kept when they form a valid chain, the key matches, the server
    certificate covers every host and stays valid for more than 30 days. Otherwise all
    three files are issued afresh. The CA private key is never written to disk: a new
    CA is made whenever anything must be reissued.

    Args:
        directory: The data directory; ``tls/`` is created inside it with mode 0700.
        hosts: Names the server certificate must cover; IP literals become IP address
            SANs, anything else a DNS name SAN.
        now: The current time (timezone-aware); defaults to ``datetime.now(UTC)``.

    Returns:
        The paths of the CA certificate, server certificate and server key.

    Raises:
        ValueError: If ``hosts`` is empty, a host is not a valid DNS name (non-ASCII),
            or ``now`` is naive.
        OSError: If the directory or the files cannot be created or written.
    """
    moment = _utc(now)
    names = _general_names(hosts)
    tls_dir = directory / "tls"
    tls_dir.mkdir(mode=_DIR_MODE, parents=True, exist_ok=True)
    tls_dir.chmod(_DIR_MODE)
    files = PemFiles(
        ca_cert=tls_dir / "ca.pem",
        server_cert=tls_dir / "server.pem",
        server_key=tls_dir / "server-key.pem",
    )
    if not _reusable(files, names, moment):
        _issue(files, names, moment)
    return files


def check_certificate_pair(cert_path: Path, key_path: Path, *, now: datetime | None = None) -> None:
    """Check that a PEM certificate and private key can serve TLS together.

    Args:
        cert_path: The ``tls_cert`` setting: a PEM certificate (a leaf first chain is
            fine; the first certificate is checked).
        key_path: The ``tls_key`` setting: an unencrypted PEM private key.
        now: The current time (timezone-aware); defaults to ``datetime.now(UTC)``.

    Raises:
        ConfigurationError: If a file is missing or unreadable, is not PEM, the key is
            encrypted, the key does not match the certificate, or the certificate is
            expired or not yet valid. The message names the setting, never key bytes.
        ValueError: If ``now`` is naive.
    """
    moment = _utc(now)
    cert = _load_certificate(cert_path)
    key = _load_private_key(key_path)
    if not _same_public_key(cert.public_key(), key):
        msg = f"tls_key: {key_path} does not match the public key of the certificate {cert_path}"
        raise ConfigurationError(msg)
    if cert.not_valid_after_utc <= moment:
        msg = f"tls_cert: {cert_path} expired on {cert.not_valid_after_utc.isoformat()}"
        raise ConfigurationError(msg)
    if cert.not_valid_before_utc > moment:
        msg = f"tls_cert: {cert_path} is not valid before {cert.not_valid_before_utc.isoformat()}"
        raise ConfigurationError(msg)


def _utc(now: datetime | None) -> datetime:
    if now is None:
        return datetime.now(UTC)
    if now.tzinfo is None:
        msg = "now must be timezone-aware"
        raise ValueError(msg)
    return now


def _general_names(hosts: Sequence[str]) -> list[x509.GeneralName]:
    names: list[x509.GeneralName] = []
    for host in hosts:
        name: x509.GeneralName
        try:
            name = x509.IPAddress(ipaddress.ip_address(host))
        except ValueError:
            name = x509.DNSName(host.lower())
        if name not in names:
            names.append(name)
    if not names:
        msg = "hosts must name at least one IP address or DNS name"
        raise ValueError(msg)
    return names


def _reusable(files: PemFiles, names: list[x509.GeneralName], now: datetime) -> bool:
    """Tell whether the files on disk are a sound, fresh chain covering ``names``."""
    try:
        ca = x509.load_pem_x509_certificate(files.ca_cert.read_bytes())
        server = x509.load_pem_x509_certificate(files.server_cert.read_bytes())
        key = serialization.load_pem_private_key(files.server_key.read_bytes(), password=None)
        server.verify_directly_issued_by(ca)
        san = server.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except _UNREADABLE:
        return False
    return (
        _same_public_key(server.public_key(), key)
        and set(names) <= set(san)
        and _fresh(ca, now)
        and _fresh(server, now)
    )


def _fresh(cert: x509.Certificate, now: datetime) -> bool:
    return cert.not_valid_before_utc <= now and cert.not_valid_after_utc - now > RENEW_BEFORE


def _same_public_key(public_key: CertificatePublicKeyTypes, private_key: PrivateKeyTypes) -> bool:
    der = serialization.Encoding.DER
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    return public_key.public_bytes(der, spki) == private_key.public_key().public_bytes(der, spki)


def _issue(files: PemFiles, names: list[x509.GeneralName], now: datetime) -> None:
    """Make a new CA and server certificate; the CA key is dropped on return."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = _build_ca(ca_key, now)
    server_key = ec.generate_private_key(ec.SECP256R1())
    server = _build_server(server_key.public_key(), ca, ca_key, names, now)
    key_pem = server_key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    # The key goes first: if writing stops half-way, the next call finds a chain that
    # does not verify and issues everything again.
    _write(files.server_key, key_pem, _KEY_MODE)
    _write(files.server_cert, server.public_bytes(serialization.Encoding.PEM), _CERT_MODE)
    _write(files.ca_cert, ca.public_bytes(serialization.Encoding.PEM), _CERT_MODE)


def _build_ca(ca_key: ec.EllipticCurvePrivateKey, now: datetime) -> x509.Certificate:
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, CA_COMMON_NAME)])
    usage = x509.KeyUsage(
        digital_signature=False,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + CA_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(usage, critical=True)
        .add_extension(
            x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )


def _build_server(
    public_key: ec.EllipticCurvePublicKey,
    ca: x509.Certificate,
    ca_key: ec.EllipticCurvePrivateKey,
    names: list[x509.GeneralName],
    now: datetime,
) -> x509.Certificate:
    usage = x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )
    aki = x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key())
    return (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, SERVER_COMMON_NAME)]))
        .issuer_name(ca.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - _BACKDATE)
        .not_valid_after(now + SERVER_VALIDITY)
        .add_extension(x509.SubjectAlternativeName(names), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(usage, critical=True)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(aki, critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .sign(ca_key, hashes.SHA256())
    )


def _write(path: Path, data: bytes, mode: int) -> None:
    """Write ``data`` so that the file never has wider permissions than ``mode``."""
    # os.open applies the mode at creation, so the key is never world readable, not
    # even between creating and chmod-ing; fchmod fixes files that existed already.
    fd = os.open(path, _OPEN_FLAGS, _KEY_MODE)
    with os.fdopen(fd, "wb") as handle:
        os.fchmod(handle.fileno(), mode)
        handle.write(data)


def _load_certificate(path: Path) -> x509.Certificate:
    data = _read(path, "tls_cert")
    try:
        return x509.load_pem_x509_certificate(data)
    except ValueError:
        msg = f"tls_cert: {path} is not a PEM certificate"
        raise ConfigurationError(msg) from None


def _load_private_key(path: Path) -> PrivateKeyTypes:
    data = _read(path, "tls_key")
    try:
        return serialization.load_pem_private_key(data, password=None)
    except TypeError:
        msg = f"tls_key: {path} is encrypted; give an unencrypted PEM private key"
        raise ConfigurationError(msg) from None
    except (ValueError, UnsupportedAlgorithm):
        msg = f"tls_key: {path} is not a PEM private key"
        raise ConfigurationError(msg) from None


def _read(path: Path, setting: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        msg = f"{setting}: {path} does not exist"
        raise ConfigurationError(msg) from None
    except OSError as exc:
        msg = f"{setting}: cannot read {path} ({exc.strerror or type(exc).__name__})"
        raise ConfigurationError(msg) from None
