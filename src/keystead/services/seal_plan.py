"""Which seal a process runs: its kind, its token, and whether it migrates the stored seal."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Final

from keystead.config import Settings, check_seal_settings
from keystead.errors import HSMError, StorageIntegrityError
from keystead.seal.pkcs11 import PKCS11RootKey, PKCS11Seal
from keystead.seal.pkcs11_token import PKCS11Token
from keystead.storage.repositories import SealConfig

SHAMIR: Final = "shamir"
PKCS11: Final = "pkcs11"


@dataclass(frozen=True, slots=True)
class SealPlan:
    """The configured seal: ``kind``, the pkcs11 seal if its settings are given, ``migrate``."""

    kind: str = SHAMIR
    hsm: PKCS11Seal | None = None
    migrate: bool = False

    def require_hsm(self) -> PKCS11Seal:
        """The pkcs11 seal.

        Raises:
            HSMError: Its settings are not given (a pkcs11-sealed database, seal = shamir).
        """
        if self.hsm is None:
            msg = (
                "this needs the pkcs11 seal's token: set pkcs11_module, pkcs11_token_label "
                "and pkcs11_pin (or pkcs11_pin_file)"
            )
            raise HSMError(msg, retry=False)
        return self.hsm


def seal_plan(settings: Settings) -> SealPlan:
    """Build the seal of a process from its settings (the token is reached later, lazily).

    Raises:
        ConfigurationError: The seal settings do not fit together; the message names one.
    """
    check_seal_settings(settings)
    module, label = settings.pkcs11_module, settings.pkcs11_token_label
    hsm = None
    if module is not None and label is not None:
        token = PKCS11Token(module, label, settings.pkcs11_pin_value)
        hsm = PKCS11Seal(token, settings.pkcs11_key_label)
    return SealPlan(settings.seal, hsm, settings.migrate_seal)


def hsm_root_key(hsm: PKCS11Seal, config: SealConfig) -> PKCS11RootKey:
    """The root key in the token that ``config`` names.

    Raises:
        StorageIntegrityError: A pkcs11 seal configuration without the key's label or id.
    """
    if config.hsm_key_label is None or config.hsm_key_id is None:
        msg = "the stored pkcs11 seal configuration names no root key"
        raise StorageIntegrityError(msg)
    return hsm.root_key(config.hsm_key_label, config.hsm_key_id)
