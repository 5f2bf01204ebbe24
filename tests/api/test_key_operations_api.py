"""Every spec over the API: creation, operations, interop with code that is not Keystead's,
batches and bad input (issue 3, must-show 1, 3 and 6)."""

from __future__ import annotations

import base64
import hashlib

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, mldsa, mlkem, padding, rsa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from joserfc.jwk import import_key

from conftest import Initialized, b64
from keystead.domain.specs import SPEC_USAGES, KeySpec, KeyUsage, default_usage

SIGNING_SPECS = [s for s in KeySpec if KeyUsage.SIGN_VERIFY in SPEC_USAGES[s]]
JWK_SPECS = [KeySpec.RSA_2048, KeySpec.EC_P256, KeySpec.EC_P384, KeySpec.EC_P521,
             KeySpec.EC_SECP256K1, KeySpec.ED25519, KeySpec.X25519]  # fmt: skip


def post(server: Initialized, path: str, body: dict | None = None):
    return server.client.post(path, json=body or {}, headers=server.auth)


def create(server: Initialized, spec: KeySpec, usage: KeyUsage | None = None) -> str:
    name = f"{spec.value.lower()}-{(usage or default_usage(spec)).value.lower()}"
    body = {"name": name, "spec": spec.value, **({"usage": usage.value} if usage else {})}
    response = post(server, "/v1/keys", body)
    assert response.status_code == 201, response.text
    assert response.json()["usage"] == (usage or default_usage(spec))
    return name


def local_public_key(server: Initialized, name: str):
    pem = server.client.get(f"/v1/keys/{name}/public-key", headers=server.auth).json()
    return serialization.load_pem_public_key(pem["public_key"].encode())


def verify_locally(public_key, signature: bytes, message: bytes, algorithm: str) -> None:
    """Verify with the `cryptography` package directly: an independent code path."""
    digest = {"256": hashes.SHA256(), "384": hashes.SHA384(), "512": hashes.SHA512()}
    if isinstance(public_key, rsa.RSAPublicKey):
        hash_ = digest[algorithm[-3:]]
        pad = (padding.PSS(padding.MGF1(hash_), hash_.digest_size) if "PSS" in algorithm
               else padding.PKCS1v15())  # fmt: skip
        public_key.verify(signature, message, pad, hash_)
    elif isinstance(public_key, ec.EllipticCurvePublicKey):
        public_key.verify(signature, message, ec.ECDSA(digest[algorithm[-3:]]))
    else:
        public_key.verify(signature, message)


@pytest.mark.parametrize("spec", SIGNING_SPECS, ids=str)
def test_signatures_verify_outside_keystead(unsealed: Initialized, spec: KeySpec) -> None:
    name = create(unsealed, spec, KeyUsage.SIGN_VERIFY)
    message = b"pay 100 EUR to account 42"
    allowed = (
        ["RSASSA_PSS_SHA_256", "RSASSA_PSS_SHA_512", "RSASSA_PKCS1_V1_5_SHA_384"]
        if spec.value.startswith("RSA") else [None]
    )  # fmt: skip
    public_key = local_public_key(unsealed, name)
    for algorithm in allowed:
        body = {"message": b64(message), **({"algorithm": algorithm} if algorithm else {})}
        signed = post(unsealed, f"/v1/keys/{name}/sign", body).json()
        signature = base64.b64decode(signed["signature"])
        verify_locally(public_key, signature, message, signed["algorithm"])
        check = {**body, "signature": signed["signature"]}
        assert post(unsealed, f"/v1/keys/{name}/verify", check).json() == {"valid": True}
        tampered = {**check, "message": b64(message + b"0")}
        assert post(unsealed, f"/v1/keys/{name}/verify", tampered).json() == {"valid": False}


@pytest.mark.parametrize("spec", [KeySpec.EC_P256, KeySpec.EC_SECP256K1, KeySpec.RSA_3072], ids=str)
def test_digest_signing_matches_message_signing(unsealed: Initialized, spec: KeySpec) -> None:
    name = create(unsealed, spec, KeyUsage.SIGN_VERIFY)
    message = b"order 7"
    digest = hashlib.sha256(message).digest()
    signed = post(unsealed, f"/v1/keys/{name}/sign", {"digest": b64(digest)}).json()
    verify_locally(
        local_public_key(unsealed, name), base64.b64decode(signed["signature"]), message,
        signed["algorithm"],
    )  # fmt: skip
    short = post(unsealed, f"/v1/keys/{name}/sign", {"digest": b64(digest[:20])})
    assert (short.status_code, short.json()["code"]) == (400, "ValidationFailed")


@pytest.mark.parametrize("spec", JWK_SPECS, ids=str)
def test_public_keys_load_as_jwk_in_a_jose_library(unsealed: Initialized, spec: KeySpec) -> None:
    name = create(unsealed, spec)
    jwk = unsealed.client.get(f"/v1/keys/{name}/public-key?format=jwk", headers=unsealed.auth)
    members = jwk.json()["public_key"]
    imported = import_key(members)
    assert imported.as_dict(private=False)["kty"] == members["kty"]
    if spec is KeySpec.EC_SECP256K1:
        assert members["crv"] == "secp256k1"
    der = unsealed.client.get(f"/v1/keys/{name}/public-key?format=der", headers=unsealed.auth)
    pem = local_public_key(unsealed, name)
    assert base64.b64decode(der.json()["public_key"]) == pem.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def test_rsa_oaep_made_locally_decrypts_in_keystead(unsealed: Initialized) -> None:
    name = create(unsealed, KeySpec.RSA_2048)
    public_key = local_public_key(unsealed, name)
    oaep = padding.OAEP(padding.MGF1(hashes.SHA256()), hashes.SHA256(), None)
    ciphertext = public_key.encrypt(b"wrapped secret", oaep)
    opened = post(unsealed, f"/v1/keys/{name}/decrypt", {"ciphertext": b64(ciphertext)})
    assert opened.json()["plaintext"] == b64(b"wrapped secret")
    tampered = bytearray(ciphertext)
    tampered[10] ^= 1
    refused = post(unsealed, f"/v1/keys/{name}/decrypt", {"ciphertext": b64(bytes(tampered))})
    assert (refused.status_code, refused.json()["code"]) == (400, "InvalidCiphertext")


def test_ml_kem_encapsulated_locally_decapsulates_in_keystead(unsealed: Initialized) -> None:
    name = create(unsealed, KeySpec.ML_KEM_768)
    public_key = local_public_key(unsealed, name)
    assert isinstance(public_key, mlkem.MLKEM768PublicKey)
    shared, encapsulation = public_key.encapsulate()
    opened = post(unsealed, f"/v1/keys/{name}/decapsulate", {"encapsulation": b64(encapsulation)})
    assert base64.b64decode(opened.json()["shared_secret"]) == shared
    ours = post(unsealed, f"/v1/keys/{name}/encapsulate").json()
    again = post(unsealed, f"/v1/keys/{name}/decapsulate", {"encapsulation": ours["encapsulation"]})
    assert again.json()["shared_secret"] == ours["shared_secret"]


def test_ml_dsa_and_ed25519_public_keys_are_the_right_types(unsealed: Initialized) -> None:
    assert isinstance(local_public_key(unsealed, create(unsealed, KeySpec.ML_DSA_87)),
                      mldsa.MLDSA87PublicKey)  # fmt: skip
    assert isinstance(local_public_key(unsealed, create(unsealed, KeySpec.ED25519)),
                      ed25519.Ed25519PublicKey)  # fmt: skip


def test_x25519_agreement_matches_the_peer(unsealed: Initialized) -> None:
    from cryptography.hazmat.primitives.asymmetric import x25519

    name = create(unsealed, KeySpec.X25519)
    peer = x25519.X25519PrivateKey.generate()
    peer_public = peer.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    agreed = post(unsealed, f"/v1/keys/{name}/agree", {"peer_public_key": b64(peer_public)}).json()
    ours = local_public_key(unsealed, name)
    assert base64.b64decode(agreed["shared_secret"]) == peer.exchange(ours)
    bad = post(unsealed, f"/v1/keys/{name}/agree", {"peer_public_key": b64(b"not a key")})
    assert (bad.status_code, bad.json()["code"]) == (400, "InvalidPublicKey")


def test_hmac_and_data_keys(unsealed: Initialized) -> None:
    mac_key = create(unsealed, KeySpec.HMAC_SHA384)
    tag = post(unsealed, f"/v1/keys/{mac_key}/mac", {"message": b64(b"m")}).json()
    assert len(base64.b64decode(tag["mac"])) == 48
    good = {"message": b64(b"m"), "mac": tag["mac"]}
    assert post(unsealed, f"/v1/keys/{mac_key}/mac/verify", good).json() == {"valid": True}
    bad = {"message": b64(b"n"), "mac": tag["mac"]}
    assert post(unsealed, f"/v1/keys/{mac_key}/mac/verify", bad).json() == {"valid": False}
    aes = create(unsealed, KeySpec.AES_256_GCM)
    with_plain = post(unsealed, f"/v1/keys/{aes}/data-key", {"spec": "AES_128"}).json()
    assert len(base64.b64decode(with_plain["plaintext"])) == 16
    opened = post(unsealed, "/v1/decrypt", {"ciphertext": with_plain["ciphertext"]}).json()
    assert opened["plaintext"] == with_plain["plaintext"]
    wrapped_only = post(unsealed, f"/v1/keys/{aes}/data-key", {"plaintext": False}).json()
    assert wrapped_only["plaintext"] is None


def test_aes_siv_is_deterministic(unsealed: Initialized) -> None:
    name = create(unsealed, KeySpec.AES_256_SIV)
    body = {"plaintext": b64(b"alice@example.com"), "context": {"field": "email"}}
    first = post(unsealed, f"/v1/keys/{name}/encrypt", body).json()["ciphertext"]
    assert post(unsealed, f"/v1/keys/{name}/encrypt", body).json()["ciphertext"] == first
    opened = post(unsealed, "/v1/decrypt", {"ciphertext": first, "context": {"field": "email"}})
    assert opened.json()["plaintext"] == body["plaintext"]


def test_random_bytes(unsealed: Initialized) -> None:
    got = post(unsealed, "/v1/random", {"bytes": 32}).json()["random"]
    assert len(base64.b64decode(got)) == 32
    for count in (0, 1025):
        assert post(unsealed, "/v1/random", {"bytes": count}).status_code == 400


@pytest.mark.parametrize(
    ("path", "body", "status", "code"),
    [
        ("/v1/keys/nope/encrypt", {"plaintext": "eA=="}, 404, "KeyNotFound"),
        ("/v1/keys/aes/sign", {"message": "eA=="}, 400, "UnsupportedOperation"),
        ("/v1/keys/aes/encrypt", {"plaintext": "not base64!"}, 400, "ValidationFailed"),
        ("/v1/keys/aes/encrypt", {"plaintext": b64(bytes(65 * 1024))}, 400, "ValidationFailed"),
        ("/v1/keys", {"name": "x", "spec": "AES_512_GCM"}, 400, "ValidationFailed"),
        ("/v1/keys/ed/sign", {"digest": b64(bytes(32))}, 400, "UnsupportedAlgorithm"),
        ("/v1/keys/ed/sign", {"message": "eA==", "algorithm": "ECDSA_SHA_256"}, 400,
         "UnsupportedAlgorithm"),
        ("/v1/keys/ec/sign", {"digest": b64(bytes(31))}, 400, "ValidationFailed"),
        ("/v1/keys/ec/sign", {}, 400, "ValidationFailed"),
        ("/v1/keys/aes/encrypt/batch", {"items": []}, 400, "ValidationFailed"),
        ("/v1/keys/aes/encrypt/batch", {"items": [{"plaintext": ""}] * 1001}, 400,
         "ValidationFailed"),
        ("/v1/keys/aes/public-key", None, 405, "MethodNotAllowed"),
    ],
)  # fmt: skip
def test_bad_input_gets_its_own_code(unsealed: Initialized, path, body, status, code) -> None:
    create_named = {"aes": KeySpec.AES_256_GCM, "ed": KeySpec.ED25519, "ec": KeySpec.EC_P256}
    for name, spec in create_named.items():
        post(unsealed, "/v1/keys", {"name": name, "spec": spec.value})
    response = post(unsealed, path, body)
    assert (response.status_code, response.json()["code"]) == (status, code), response.text


def test_batches_give_each_item_its_own_result(unsealed: Initialized) -> None:
    name = create(unsealed, KeySpec.AES_256_GCM)
    items = [{"plaintext": b64(f"item {n}".encode()), "context": {"n": str(n)}} for n in range(100)]
    encrypted = post(unsealed, f"/v1/keys/{name}/encrypt/batch", {"items": items}).json()
    assert len(encrypted["results"]) == 100
    blobs = [r["ciphertext"] for r in encrypted["results"]]
    to_open = [{"ciphertext": blob, "context": {"n": str(n)}} for n, blob in enumerate(blobs)]
    to_open[7]["context"] = {"n": "wrong"}
    to_open.append({"ciphertext": b64(b"garbage")})
    opened = post(unsealed, "/v1/decrypt/batch", {"items": to_open}).json()["results"]
    assert opened[0]["plaintext"] == b64(b"item 0")
    assert opened[7]["error"]["code"] == "InvalidCiphertext"
    assert opened[100]["error"]["code"] == "InvalidCiphertext"
    assert sum(r["error"] is None for r in opened) == 99
    signer = create(unsealed, KeySpec.ED25519)
    to_sign = [{"message": b64(b"a")}, {"digest": b64(bytes(32))}, {"message": b64(b"b")}]
    signed = post(unsealed, f"/v1/keys/{signer}/sign/batch", {"items": to_sign}).json()
    assert [r["error"] is None for r in signed["results"]] == [True, False, True]
    checks = [
        {"message": b64(b"a"), "signature": signed["results"][0]["signature"]},
        {"message": b64(b"b"), "signature": signed["results"][0]["signature"]},
    ]
    verified = post(unsealed, f"/v1/keys/{signer}/verify/batch", {"items": checks}).json()
    assert [r["valid"] for r in verified["results"]] == [True, False]


def test_any_flipped_byte_or_context_change_fails(unsealed: Initialized) -> None:
    post(unsealed, "/v1/keys", {"name": "tamper", "spec": "AES_256_GCM"})
    context = {"tenant": "7", "purpose": "invoice"}
    made = post(
        unsealed, "/v1/keys/tamper/encrypt", {"plaintext": b64(b"42.00 EUR"), "context": context}
    )
    blob = base64.b64decode(made.json()["ciphertext"])
    other_value = st.text(max_size=5).filter(lambda text: text != "7")
    new_name = st.text(min_size=1, max_size=5).filter(lambda name: name not in context)
    flipped = st.tuples(st.integers(0, len(blob) - 1), st.integers(1, 255)).map(
        lambda change: (
            blob[: change[0]] + bytes([blob[change[0]] ^ change[1]]) + blob[change[0] + 1 :],
            context,
        )
    )
    edited = st.one_of(
        other_value.map(lambda value: {**context, "tenant": value}),
        new_name.map(lambda name: {**context, name: "x"}),
        st.sampled_from(sorted(context)).map(
            lambda gone: {k: v for k, v in context.items() if k != gone}
        ),
    ).map(lambda other: (blob, other))

    @settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
    @given(case=st.one_of(flipped, edited))
    def never_a_wrong_plaintext(case: tuple[bytes, dict[str, str]]) -> None:
        ciphertext, used_context = case
        response = post(
            unsealed, "/v1/decrypt", {"ciphertext": b64(ciphertext), "context": used_context}
        )
        assert (response.status_code, response.json()["code"]) == (400, "InvalidCiphertext")

    never_a_wrong_plaintext()


def test_dates_without_a_utc_offset_are_refused(unsealed: Initialized) -> None:
    response = post(
        unsealed, "/v1/keys",
        {"name": "naive", "spec": "AES_256_GCM", "activation_date": "2030-01-01T00:00:00"},
    )  # fmt: skip
    assert (response.status_code, response.json()["code"]) == (400, "ValidationFailed")
