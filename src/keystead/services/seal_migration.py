"""Seal migration (issue 7): move the keyring between the Shamir and the pkcs11 seal.

Only the keyring's wrapping changes: every value under the keyring stays as it is, so keys
made before decrypt after. Shamir to pkcs11: the unseal shares authorise, a root key is made
in the token, and the unseal shares become the recovery shares (as Vault does). pkcs11 to
Shamir: the recovery shares authorise, the token opens the keyring one last time, and the
recovery key becomes the Shamir root key, so the recovery shares become the unseal shares.
The old root key stays in the token: delete it with the token's tools once done.
"""

from __future__ import annotations

import asyncio

import structlog

from keystead.crypto.secret import KeyMaterial
from keystead.errors import HSMError, SealMigrationRefused
from keystead.seal import recovery
from keystead.seal.barrier import AnyRootKey, Keyring, rewrap_keyring
from keystead.seal.pkcs11 import PKCS11RootKey, PKCS11Seal, destroy_root_key
from keystead.services.clock import Clock
from keystead.services.seal_plan import PKCS11, SHAMIR, SealPlan, hsm_root_key
from keystead.storage.repositories import SealConfig
from keystead.storage.uow import Database

_log = structlog.get_logger("keystead.seal")


async def migrate(
    database: Database, plan: SealPlan, config: SealConfig, key: KeyMaterial, clock: Clock
) -> tuple[SealConfig, AnyRootKey]:
    """Move the keyring from the stored seal to ``plan.kind`` and store the new seal.

    Args:
        database: Where the seal configuration lives.
        plan: The configured seal (the target).
        config: The stored seal configuration (the source).
        key: The key the quorum rebuilt: the Shamir root key, or the recovery key. Taken:
            wiped, or returned as the new Shamir root key.
        clock: The time of the change.

    Returns:
        The new configuration, and the root key that opens its keyring.

    Raises:
        InvalidRootKey: The shares do not rebuild this server's key; nothing changed.
        HSMError: The token cannot be used; nothing changed.
        SealMismatch: The stored seal changed meanwhile (another node); nothing changed.
        SealMigrationRefused: To Shamir while HSM-protected keys remain; nothing changed.
    """
    hsm = plan.require_hsm()
    root_key: AnyRootKey
    if plan.kind == PKCS11:
        new, root_key = await _to_pkcs11(hsm, config, key)
    else:
        await _refuse_while_hsm_keys(database, key)
        new, root_key = await _to_shamir(hsm, config, key)
    try:
        async with database.unit_of_work() as uow:
            await uow.system.replace_seal_config(config, new, clock())
    except Exception:
        if isinstance(root_key, PKCS11RootKey):
            await discard(root_key)
        root_key.wipe()
        raise
    return new, root_key


async def _refuse_while_hsm_keys(database: Database, key: KeyMaterial) -> None:
    """HSM-protected keys live in the token, which a Shamir server no longer opens."""
    async with database.unit_of_work() as uow:
        count = await uow.keys.count_protected("HSM")
    if count:
        key.wipe()
        msg = (
            f"{count} key(s) are HSM-protected: their material never leaves the token, which "
            "a Shamir server does not use; destroy them, or keep the pkcs11 seal"
        )
        raise SealMigrationRefused(msg)


async def _to_pkcs11(
    hsm: PKCS11Seal, config: SealConfig, unseal_key: KeyMaterial
) -> tuple[SealConfig, PKCS11RootKey]:
    try:
        keyring = Keyring.unwrap(unseal_key, config.keyring_wrapped)  # wrong shares: no key made
        check = recovery.check_value(unseal_key)
    finally:
        unseal_key.wipe()
    try:
        root_key = await asyncio.to_thread(hsm.new_root_key)
        try:
            wrapped = await asyncio.to_thread(keyring.wrap, root_key)
        except Exception:
            await discard(root_key)
            raise
    finally:
        keyring.wipe()
    new = SealConfig(
        PKCS11, config.secret_shares, config.secret_threshold, wrapped, check,
        root_key.label, root_key.key_id,
    )  # fmt: skip
    return new, root_key


async def _to_shamir(
    hsm: PKCS11Seal, config: SealConfig, recovery_key: KeyMaterial
) -> tuple[SealConfig, KeyMaterial]:
    check = config.recovery_check or b""  # an empty check matches no key
    try:
        recovery.verify(recovery_key, check)
        old_root = hsm_root_key(hsm, config)
        wrapped = await asyncio.to_thread(
            rewrap_keyring, config.keyring_wrapped, old_root, recovery_key
        )
    except BaseException:
        recovery_key.wipe()
        raise
    new = SealConfig(SHAMIR, config.secret_shares, config.secret_threshold, wrapped)
    return new, recovery_key


async def discard(root_key: PKCS11RootKey) -> None:
    """Destroy a root key made in the token but never put to use; failures are only logged."""
    try:
        await asyncio.to_thread(destroy_root_key, root_key)
    except HSMError as error:
        _log.warning(
            "could not destroy an unused root key in the token; delete it with the token's tools",
            key_label=root_key.label, key_id=root_key.key_id.hex(), reason=error.public_detail,
        )  # fmt: skip
