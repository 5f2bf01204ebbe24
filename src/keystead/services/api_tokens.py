"""Tokens as a resource: API tokens for oneself or a service account, listing, revoking."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import timedelta

from keystead.domain.identity import TokenInfo, UserKind
from keystead.domain.models import Principal
from keystead.errors import PermissionDenied, TokenNotFound, ValidationFailed
from keystead.services.access import AccessService
from keystead.services.tokens import IssuedToken, TokenService
from keystead.services.users import UserService
from keystead.storage.uow import Database


class ApiTokenService:
    """What a caller may do with tokens: its own freely, others' with the admin actions."""

    def __init__(
        self, database: Database, tokens: TokenService, users: UserService, access: AccessService
    ) -> None:
        self._database = database
        self._tokens = tokens
        self._users = users
        self._access = access

    async def create(
        self,
        principal: Principal,
        username: str | None,
        roles: Sequence[str] | None,
        ttl: timedelta | None,
        description: str,
    ) -> IssuedToken:
        """Mint an API token carrying a subset of its holder's roles.

        For oneself, the roles are a subset of the caller's own; an administrator may mint
        one for a service account, with a subset of that account's roles.

        Raises:
            PermissionDenied: For someone else without tokens.create_for, or for a person.
            ValidationFailed: A role the holder does not have; root naming no account.
            UserNotFound: No such account.
        """
        target = username or principal.display_name
        if principal.is_root and username is None:
            msg = "the root token mints API tokens for service accounts: give username"
            raise ValidationFailed(msg)
        own = target == principal.display_name and not principal.is_root
        stored = await self._users.stored(target)
        if own:
            ceiling = principal.roles
        else:
            await self._access.require(principal, "tokens.create_for")
            if stored.user.kind is not UserKind.SERVICE:
                msg = "API tokens for others are for service accounts only"
                raise PermissionDenied(msg)
            ceiling = stored.user.roles
        chosen = tuple(ceiling) if roles is None else tuple(dict.fromkeys(roles))
        extra = sorted(set(chosen) - set(ceiling))
        if extra:
            msg = f"a token carries a subset of its holder's roles; not {', '.join(extra)}"
            raise ValidationFailed(msg)
        async with self._database.unit_of_work() as uow:
            return await self._tokens.issue_api_token(
                uow, stored.user, chosen, ttl, description, principal.display_name
            )

    async def list(
        self, principal: Principal, username: str | None, *, everyone: bool
    ) -> list[TokenInfo]:
        """Return live tokens: the caller's own, or (admin) a user's or everyone's.

        Raises:
            PermissionDenied: Others' tokens without tokens.list_all.
        """
        if everyone or (username is not None and username != principal.display_name):
            await self._access.require(principal, "tokens.list_all")
            return await self._tokens.live(None if everyone else username)
        if principal.is_root:
            return []
        return await self._tokens.live(principal.display_name)

    async def revoke(self, principal: Principal, token_id: str) -> None:
        """Revoke a token: one's own, or (admin) anyone's.

        Raises:
            TokenNotFound: No live token with that id that the caller may see.
        """
        stored = await self._tokens.get(token_id)
        if stored is None or stored.revoked:
            raise TokenNotFound
        mine = stored.username == principal.display_name and not principal.is_root
        if not mine:
            try:
                await self._access.require(principal, "tokens.revoke_any")
            except PermissionDenied:
                raise TokenNotFound from None
        await self._tokens.revoke(token_id)
