"""A spec's material length is what keygen makes for it: import checks material against it."""

from __future__ import annotations

import pytest

from keystead.crypto import keygen
from keystead.domain.specs import MAC_SPECS, SYMMETRIC_AEAD


@pytest.mark.parametrize("spec", sorted(SYMMETRIC_AEAD | MAC_SPECS))
def test_the_length_is_that_of_generated_material(spec: str) -> None:
    assert keygen.material_length(spec) == len(keygen.generate(spec).material)


def test_known_lengths() -> None:
    lengths = {s: keygen.material_length(s) for s in ("AES_256_GCM", "HMAC_SHA384")}
    assert lengths == {"AES_256_GCM": 32, "HMAC_SHA384": 48}


def test_an_asymmetric_spec_has_no_fixed_length() -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the enum's own message
        keygen.material_length("ED25519")
