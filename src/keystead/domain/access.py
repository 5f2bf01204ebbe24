"""Who may do what: actions, policy statements, built-in roles, and their evaluation.

A policy is a list of statements ``{effect, actions, keys}``; ``actions`` and ``keys`` are
globs. A glob matches the whole name; ``*`` stands for any run of characters (``.`` and
``:`` included, none at all too) and ``?`` for exactly one; every other character stands for
itself. ``keys`` is matched against the key's name (not its id) and ignored by actions that
concern no key. Evaluation: any matching deny refuses; otherwise any matching allow, grant or
ownership permits; nothing is allowed by default.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import StrEnum
from functools import lru_cache
from typing import Final


class Effect(StrEnum):
    """What a matching statement does: deny always wins over allow."""

    ALLOW = "allow"
    DENY = "deny"


class Scope(StrEnum):
    """What an action is checked against."""

    GLOBAL = "global"
    """No key: checked by the router against the caller's policies alone."""
    KEY = "key"
    """One key: checked by the service once the key is known (name, owner, grants)."""
    SELF = "self"
    """The caller's own session and identity: any authenticated caller."""


# Key-use actions: what ownership and grants can give. Each grant operation is the action
# name without the "keys." prefix.
KEY_USE_ACTIONS: Final = frozenset(
    {
        "keys.encrypt", "keys.decrypt", "keys.reencrypt", "keys.data_key",
        "keys.data_key_wrapped", "keys.sign", "keys.verify", "keys.mac", "keys.mac_verify",
        "keys.encapsulate", "keys.decapsulate", "keys.agree",
    }
)  # fmt: skip
# Uses that need only the public half: on a user's own key, these follow the usual rules.
PUBLIC_HALF_USES: Final = frozenset({"keys.verify", "keys.verify_batch"})
# Reading a key's metadata: given with any use of it.
KEY_READ_ACTIONS: Final = frozenset({"keys.describe", "keys.versions", "keys.public_key"})
KEY_ADMIN_ACTIONS: Final = frozenset(
    {
        "keys.create", "keys.list", "keys.update", "keys.rotate", "keys.activate",
        "keys.suspend", "keys.resume", "keys.deactivate", "keys.revoke",
        "keys.schedule_destruction", "keys.cancel_destruction", "keys.version_deactivate",
        "keys.version_revoke", "keys.version_schedule_destruction",
        "keys.version_cancel_destruction", "grants.create", "grants.list", "grants.revoke",
        "keys.import",
    }
)  # fmt: skip
GRANT_ACTIONS: Final = frozenset({"grants.create", "grants.list", "grants.revoke"})
IDENTITY_ACTIONS: Final = frozenset(
    {
        "users.create", "users.list", "users.describe", "users.update", "users.delete",
        "users.disable", "users.enable", "users.set_password", "users.reset_totp",
        "roles.create", "roles.list", "roles.describe", "roles.update", "roles.delete",
        "policies.create", "policies.list", "policies.describe", "policies.update",
        "policies.delete", "tokens.create_for", "tokens.list_all", "tokens.revoke_any",
    }
)  # fmt: skip
SYSTEM_ACTIONS: Final = frozenset(
    {"sys.seal", "sys.rotate_keyring", "sys.metrics", "sys.revoke_root"}
)
SELF_ACTIONS: Final = frozenset(
    {
        "auth.whoami", "auth.logout", "auth.renew", "auth.password", "auth.totp_enroll",
        "auth.totp_confirm", "auth.totp_disable", "tokens.create", "tokens.list",
        "tokens.revoke", "users.public_key", "sys.openapi", "audit.public_key",
    }
)  # fmt: skip
AUDIT_ACTIONS: Final = frozenset({"audit.read", "audit.verify", "audit.export"})
KEY_EXPORT_ACTION: Final = "keys.export"
KEY_IMPORT_ACTION: Final = "keys.import"
# A backup can be opened by whoever holds its passphrase: taking one extracts key material.
BACKUP_CREATE_ACTION: Final = "backups.create"
BACKUP_RESTORE_ACTION: Final = "backups.restore"
KEY_BACKUP_ACTION: Final = "keys.backup"
KEY_RESTORE_ACTION: Final = "keys.restore"

# Endpoint actions whose permission is another action's (batches are checked as singles).
PERMISSION_OF: Final[Mapping[str, str]] = {
    "keys.encrypt_batch": "keys.encrypt",
    "keys.decrypt_batch": "keys.decrypt",
    "keys.sign_batch": "keys.sign",
    "keys.verify_batch": "keys.verify",
    "keys.decrypt_with_key": "keys.decrypt",
    # Asking for BYOK import parameters needs what the import itself needs.
    "keys.import_params": KEY_IMPORT_ACTION,
}

_SCOPES: Final[Mapping[str, Scope]] = {
    **dict.fromkeys(KEY_USE_ACTIONS | KEY_READ_ACTIONS | KEY_ADMIN_ACTIONS, Scope.KEY),
    **dict.fromkeys(IDENTITY_ACTIONS | SYSTEM_ACTIONS | AUDIT_ACTIONS, Scope.GLOBAL),
    **dict.fromkeys(SELF_ACTIONS, Scope.SELF),
    "sys.random": Scope.GLOBAL,
    "keys.list": Scope.GLOBAL,
    # BYOK import makes a new key from a token and wrapped material: no existing key to check.
    KEY_IMPORT_ACTION: Scope.GLOBAL,
    # Wrapped export of material: in no built-in role, given by no grant or ownership; only
    # a policy that names it allows it, and only for keys created exportable.
    KEY_EXPORT_ACTION: Scope.KEY,
    # Backup and restore, like export, are in no built-in role: only a policy naming them
    # (or the root token) allows them. The single-key forms are checked on the key's name.
    BACKUP_CREATE_ACTION: Scope.GLOBAL,
    BACKUP_RESTORE_ACTION: Scope.GLOBAL,
    KEY_BACKUP_ACTION: Scope.KEY,
    KEY_RESTORE_ACTION: Scope.KEY,
    # Anyone reads their own record; the service asks users.describe for anyone else's.
    "users.describe": Scope.SELF,
}
ALL_ACTIONS: Final = frozenset(_SCOPES)


def permission_of(action: str) -> str:
    """Return the action a policy must allow for an endpoint's action."""
    return PERMISSION_OF.get(action, action)


def scope_of(action: str) -> Scope | None:
    """Return what an action is checked against, or None for an action nobody declared."""
    return _SCOPES.get(permission_of(action))


@dataclass(frozen=True, slots=True)
class Statement:
    """One rule: allow or deny these actions on keys with these names."""

    effect: Effect
    actions: tuple[str, ...]
    keys: tuple[str, ...] = ("*",)

    def matches(self, action: str, key_name: str | None) -> bool:
        """Whether the statement speaks of ``action`` on the key named ``key_name``."""
        if not any(glob_match(pattern, action) for pattern in self.actions):
            return False
        return key_name is None or any(glob_match(pattern, key_name) for pattern in self.keys)


@dataclass(frozen=True, slots=True)
class Policy:
    """A named list of statements."""

    name: str
    statements: tuple[Statement, ...]
    description: str = ""
    builtin: bool = False


def evaluate(statements: Iterable[Statement], action: str, key_name: str | None) -> Effect | None:
    """Return DENY if any matching statement denies, ALLOW if one allows, else None."""
    allowed = False
    for statement in statements:
        if statement.matches(action, key_name):
            if statement.effect is Effect.DENY:
                return Effect.DENY
            allowed = True
    return Effect.ALLOW if allowed else None


def glob_match(pattern: str, name: str) -> bool:
    """Whether ``name`` matches ``pattern`` as a whole (``*`` any run, ``?`` one character)."""
    return _compiled(pattern).fullmatch(name) is not None


@lru_cache(maxsize=4096)
def _compiled(pattern: str) -> re.Pattern[str]:
    parts = (".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile("".join(parts), re.DOTALL)


GLOB_PATTERN: Final = re.compile(r"[A-Za-z0-9._:*?-]{1,200}")


def check_glob(pattern: str) -> bool:
    """Whether ``pattern`` is a glob a statement may hold (the key-name alphabet, ``*``, ``?``)."""
    return GLOB_PATTERN.fullmatch(pattern) is not None


class BuiltinRole(StrEnum):
    """The roles every Keystead has; they keep duties apart (ARCHITECTURE.md section 7)."""

    ADMIN = "admin"
    """Identities, roles, policies and tokens; seal and keyring. No key use."""
    KEY_ADMIN = "key-admin"
    """The lifecycle of keys and their grants. No key use."""
    KEY_USER = "key-user"
    """Use of the keys it owns or is granted, and random bytes."""
    AUDITOR = "auditor"
    """Reading and verifying the audit log."""


_ALLOW = Effect.ALLOW
BUILTIN_POLICIES: Final[Mapping[str, Policy]] = {
    BuiltinRole.ADMIN: Policy(
        "admin",
        (Statement(_ALLOW, tuple(sorted(IDENTITY_ACTIONS | SYSTEM_ACTIONS))),),
        "identities, roles, policies and tokens; seal and keyring; no key use",
        builtin=True,
    ),
    BuiltinRole.KEY_ADMIN: Policy(
        "key-admin",
        (Statement(_ALLOW, tuple(sorted(KEY_ADMIN_ACTIONS | KEY_READ_ACTIONS))),),
        "the lifecycle of every key and its grants; no key use",
        builtin=True,
    ),
    BuiltinRole.KEY_USER: Policy(
        "key-user",
        (Statement(_ALLOW, ("sys.random",)),),
        "use of the keys it owns or is granted (ownership and grants need this role)",
        builtin=True,
    ),
    BuiltinRole.AUDITOR: Policy(
        "auditor",
        (Statement(_ALLOW, tuple(sorted(AUDIT_ACTIONS))),),
        "read and verify the audit log",
        builtin=True,
    ),
}
BUILTIN_ROLES: Final[Mapping[str, tuple[str, ...]]] = {
    role.value: (role.value,) for role in BuiltinRole
}

# Keys named with this prefix are users' own signing keys (the seed's step 2): only their
# owner may use them, whatever a policy or a grant says.
PERSONAL_KEY_PREFIX: Final = "user:"


def personal_key_name(username: str) -> str:
    """Return the name of a user's own key pair."""
    return PERSONAL_KEY_PREFIX + username


def grant_operations() -> frozenset[str]:
    """Return the operations a grant may list (key-use actions without their prefix)."""
    return frozenset(action.removeprefix("keys.") for action in KEY_USE_ACTIONS)
