"""Policy statements, globs and the decision rules (issue 4, must-show 1: deny wins, globs)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from hypothesis import given
from hypothesis import strategies as st

from keystead.domain.access import (
    ALL_ACTIONS,
    BUILTIN_POLICIES,
    Effect,
    Scope,
    Statement,
    evaluate,
    glob_match,
    permission_of,
    scope_of,
)
from keystead.domain.identity import Grant
from keystead.domain.models import Principal
from keystead.services.access import Target, decide

ALLOW, DENY = Effect.ALLOW, Effect.DENY


@pytest.mark.parametrize(
    ("pattern", "name", "matches"),
    [
        ("*", "", True),
        ("*", "anything:at.all-1", True),
        ("payments-*", "payments-eu", True),
        ("payments-*", "payments-", True),
        ("payments-*", "xpayments-eu", False),  # a glob matches the whole name
        ("payments-*", "Payments-eu", False),  # case counts
        ("*-eu", "payments-eu", True),
        ("*-eu", "payments-eu-2", False),
        ("team.?", "team.a", True),
        ("team.?", "team.ab", False),
        ("team.?", "team.", False),
        ("a.b", "aXb", False),  # '.' is itself, not "any character"
        ("keys.*", "keys.encrypt", True),
        ("keys.*", "keysXencrypt", False),
        ("user:*", "user:alice", True),  # '*' crosses ':' and '.'
        ("[ab]", "a", False),  # brackets are literal characters
        ("[ab]", "[ab]", True),
        ("a*b*c", "aXXbYYc", True),
        ("a*b*c", "aXXcYYb", False),
    ],
)
def test_globs_match_as_documented(pattern: str, name: str, matches: bool) -> None:
    assert glob_match(pattern, name) is matches


@given(st.text(alphabet="abc.:-_", max_size=12))
def test_a_glob_without_wildcards_matches_only_itself(name: str) -> None:
    assert glob_match(name, name)
    assert not glob_match(name, name + "x")
    assert glob_match("*", name)


def test_deny_wins_over_allow_in_any_order() -> None:
    allow = Statement(ALLOW, ("keys.*",), ("*",))
    deny = Statement(DENY, ("keys.encrypt",), ("secret-*",))
    for statements in ([allow, deny], [deny, allow]):
        assert evaluate(statements, "keys.encrypt", "secret-1") is DENY
        assert evaluate(statements, "keys.encrypt", "public-1") is ALLOW
        assert evaluate(statements, "keys.decrypt", "secret-1") is ALLOW


def test_nothing_is_allowed_by_default() -> None:
    assert evaluate([], "keys.encrypt", "k") is None
    unrelated = [Statement(ALLOW, ("keys.sign",), ("k",))]
    assert evaluate(unrelated, "keys.encrypt", "k") is None
    assert evaluate(unrelated, "keys.sign", "other") is None


def test_key_globs_are_ignored_by_actions_without_a_key() -> None:
    statement = Statement(ALLOW, ("users.create",), ("only-this-key",))
    assert evaluate([statement], "users.create", None) is ALLOW


def test_every_builtin_policy_names_only_known_actions() -> None:
    for policy in BUILTIN_POLICIES.values():
        for statement in policy.statements:
            for action in statement.actions:
                assert action in ALL_ACTIONS, (policy.name, action)


def test_batches_are_checked_as_their_single_operation() -> None:
    assert permission_of("keys.encrypt_batch") == "keys.encrypt"
    assert permission_of("keys.decrypt_with_key") == "keys.decrypt"
    assert scope_of("keys.sign_batch") is Scope.KEY
    assert scope_of("users.create") is Scope.GLOBAL
    assert scope_of("auth.whoami") is Scope.SELF
    assert scope_of("no.such_action") is None


def _user(name: str, *roles: str) -> Principal:
    return Principal(f"token-of-{name}", "session", name, roles)


ROOT = Principal("root-token", "root", "root", ("root",))


def test_a_grant_works_only_for_its_grantee_with_the_key_user_role() -> None:
    grant = Grant(
        id="g", key_id="k", grantee="bob", operations=("encrypt",), created_by="root",
        created_at=datetime(2026, 12, 1, tzinfo=UTC),
    )  # fmt: skip
    target = Target("orders", owner="root", grants=(grant,), exists=True)
    assert decide(_user("bob", "key-user"), "keys.encrypt", [], target)
    assert decide(_user("bob", "key-user"), "keys.describe", [], target)
    assert not decide(_user("bob", "key-user"), "keys.decrypt", [], target)
    assert not decide(_user("bob"), "keys.encrypt", [], target)  # no key-user role
    assert not decide(_user("carol", "key-user"), "keys.encrypt", [], target)
    deny = [Statement(DENY, ("keys.*",), ("orders",))]
    assert not decide(_user("bob", "key-user"), "keys.encrypt", deny, target)


def test_a_users_own_key_is_used_by_its_owner_alone() -> None:
    target = Target("user:alice", owner="alice", exists=True)
    allow_all = [Statement(ALLOW, ("*",), ("*",))]
    assert decide(_user("alice", "key-user"), "keys.sign", [], target)
    assert not decide(_user("bob", "key-user"), "keys.sign", allow_all, target)
    assert not decide(ROOT, "keys.sign", [], target)
    assert decide(ROOT, "keys.revoke", [], target)  # its lifecycle stays with the operators
    own_deny = [Statement(DENY, ("keys.sign",), ("user:*",))]
    assert not decide(_user("alice", "key-user"), "keys.sign", own_deny, target)


def test_a_key_that_does_not_exist_gives_nothing_through_ownership() -> None:
    target = Target("ghost")
    assert not decide(_user("alice", "key-user"), "keys.encrypt", [], target)
    assert decide(_user("alice"), "keys.encrypt", [Statement(ALLOW, ("keys.*",))], target)
