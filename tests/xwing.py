"""X-Wing (MLKEM768X25519) recipient keys for tests: cryptography writes no PEM for them.

The SubjectPublicKeyInfo is built here from draft-connolly-cfrg-xwing-kem's ASN.1 with a
minimal DER writer, not from the constant in ``keystead.crypto.key_wrap``.
"""

from __future__ import annotations

import base64
import functools
import textwrap

from cryptography.hazmat.primitives import hpke
from cryptography.hazmat.primitives.asymmetric import mlkem, x25519


def der_to_pem(der: bytes) -> str:
    body = "\n".join(textwrap.wrap(base64.b64encode(der).decode("ascii"), 64))
    return f"-----BEGIN PUBLIC KEY-----\n{body}\n-----END PUBLIC KEY-----\n"


# draft-connolly-cfrg-xwing-kem-06: the X-Wing SubjectPublicKeyInfo OID (id-XWing).
XWING_OID = "1.3.6.1.4.1.62253.25722"


# A minimal DER writer, so that the X-Wing SPKI is built here from the draft's ASN.1 and
# not from the constant in key_wrap.
def der(tag: int, body: bytes) -> bytes:
    if len(body) < 0x80:
        return bytes([tag, len(body)]) + body
    size = len(body).to_bytes((len(body).bit_length() + 7) // 8, "big")
    return bytes([tag, 0x80 | len(size)]) + size + body


def der_oid(dotted: str) -> bytes:
    first, second, *rest = (int(arc) for arc in dotted.split("."))
    out = bytearray([40 * first + second])
    for arc in rest:
        chunk = [arc & 0x7F]
        high = arc >> 7
        while high:
            chunk.append(0x80 | (high & 0x7F))
            high >>= 7
        out += bytes(reversed(chunk))
    return der(0x06, bytes(out))


def xwing_spki(public_key_bytes: bytes) -> bytes:
    algorithm = der(0x30, der_oid(XWING_OID))
    return der(0x30, algorithm + der(0x03, b"\x00" + public_key_bytes))


@functools.cache
def xwing_pair() -> tuple[hpke.MLKEM768X25519PrivateKey, str]:
    mlkem_key, x_key = mlkem.MLKEM768PrivateKey.generate(), x25519.X25519PrivateKey.generate()
    raw = mlkem_key.public_key().public_bytes_raw() + x_key.public_key().public_bytes_raw()
    assert len(raw) == 1216
    return hpke.MLKEM768X25519PrivateKey(mlkem_key, x_key), der_to_pem(xwing_spki(raw))
