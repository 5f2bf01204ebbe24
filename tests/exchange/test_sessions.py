"""Sessions: made by a signed login, ended by logout, refused once ended or expired."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from exchange_support import running_market
from keystead.exchange.client import ExchangeAPIError


def test_logout_ends_only_that_session(tmp_path: Path) -> None:
    with running_market(tmp_path) as market:
        alice = market.user("alice")
        second = market.client("alice")
        second.session_token = alice.session_token
        other = market.client("alice", token=None)
        other._keystead = alice._keystead
        other.login()
        assert alice.session_token != other.session_token
        alice.logout()
        assert alice.session_token is None
        with pytest.raises(ExchangeAPIError) as refused:
            second.me()  # the ended session's token
        assert (refused.value.status, refused.value.code) == (401, "Unauthenticated")
        assert other.me()["account"] == "alice"  # another session of the same user lives on
        with pytest.raises(ExchangeAPIError) as again:
            second.logout()
        assert again.value.status == 401


def test_an_expired_session_is_refused(tmp_path: Path) -> None:
    now = [time.time()]
    with running_market(tmp_path, clock=lambda: now[0], session_ttl_seconds=60) as market:
        alice = market.user("alice")
        assert alice.me()["account"] == "alice"
        now[0] += 59
        assert alice.me()["account"] == "alice"
        now[0] += 2  # 61 s after the login
        with pytest.raises(ExchangeAPIError) as refused:
            alice.me()
        assert (refused.value.status, refused.value.code) == (401, "Unauthenticated")
        alice.login()  # a new signed login opens a new session
        assert alice.me()["account"] == "alice"
