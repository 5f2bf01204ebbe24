"""Failed-login throttling rules: the growing delay, the lockout, and the restart after it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from keystead.domain.throttle import ThrottleRules, ThrottleState, after_failure, wait_seconds

NOW = datetime(2026, 11, 28, 12, 0, tzinfo=UTC)
# The shipped defaults: a delay from the 3rd failure, at most 60 s, locked for 900 s at 10.
RULES = ThrottleRules(
    delay_after=3, max_delay=timedelta(seconds=60), lockout_threshold=10,
    lockout=timedelta(seconds=900),
)  # fmt: skip


def fail(times: int, rules: ThrottleRules = RULES, state: ThrottleState | None = None):
    """Fold ``times`` failures, all at NOW, and return every state on the way."""
    states = []
    current = state or ThrottleState()
    for _ in range(times):
        current = after_failure(current, rules, NOW)
        states.append(current)
    return states


def test_a_fresh_subject_waits_for_nothing() -> None:
    assert wait_seconds(ThrottleState(), NOW) == 0


def test_the_first_failures_cost_nothing() -> None:
    first, second = fail(2)
    assert first == ThrottleState(1)
    assert second == ThrottleState(2)
    assert wait_seconds(second, NOW) == 0


def test_the_delay_doubles_from_the_third_failure_up_to_the_maximum() -> None:
    waits = [wait_seconds(state, NOW) for state in fail(9)]
    assert waits == [0, 0, 1, 2, 4, 8, 16, 32, 60]


def test_the_delay_is_over_once_it_has_passed() -> None:
    state = fail(5)[-1]  # a 4 s delay
    assert wait_seconds(state, NOW + timedelta(seconds=3)) == 1
    assert wait_seconds(state, NOW + timedelta(seconds=4)) == 0


def test_the_threshold_locks_the_subject_for_the_lockout() -> None:
    states = fail(10)
    assert [s.locked_until for s in states[:9]] == [None] * 9
    locked = states[-1]
    assert locked.failures == 10
    assert locked.locked_until == NOW + timedelta(seconds=900)
    assert wait_seconds(locked, NOW) == 900
    assert wait_seconds(locked, NOW + timedelta(seconds=899)) == 1
    assert wait_seconds(locked, NOW + timedelta(seconds=900)) == 0


def test_the_count_restarts_after_a_lockout_ends() -> None:
    locked = fail(10)[-1]
    later = NOW + timedelta(seconds=900)
    again = after_failure(locked, RULES, later)
    assert again == ThrottleState(1)
    assert wait_seconds(again, later) == 0


def test_a_failure_during_the_lockout_does_not_restart_the_count() -> None:
    locked = fail(10)[-1]
    during = NOW + timedelta(seconds=899)
    again = after_failure(locked, RULES, during)
    assert again.failures == 11
    assert again.locked_until == during + timedelta(seconds=900)


@pytest.mark.parametrize(
    ("remaining", "expected"),
    [
        (timedelta(microseconds=1), 1),
        (timedelta(milliseconds=200), 1),
        (timedelta(seconds=1), 1),
        (timedelta(seconds=1, microseconds=1), 2),
        (timedelta(seconds=1, milliseconds=500), 2),
        (timedelta(seconds=59, microseconds=999_999), 60),
    ],
)
def test_the_wait_is_rounded_up_to_whole_seconds(remaining: timedelta, expected: int) -> None:
    """Waiting what Retry-After says must be enough: never one second too few."""
    state = ThrottleState(5, NOW + remaining)
    assert wait_seconds(state, NOW) == expected
    assert wait_seconds(state, NOW + timedelta(seconds=expected)) == 0


def test_the_longer_of_delay_and_lockout_is_the_wait() -> None:
    state = ThrottleState(3, NOW + timedelta(seconds=30), NOW + timedelta(seconds=10))
    assert wait_seconds(state, NOW) == 30
    past = ThrottleState(3, NOW - timedelta(seconds=1), NOW + timedelta(seconds=10))
    assert wait_seconds(past, NOW) == 10


def test_many_failures_before_a_high_threshold_stay_at_the_maximum_delay() -> None:
    """A high threshold (the per-address one goes to 100000) must not overflow the delay."""
    rules = ThrottleRules(
        delay_after=1, max_delay=timedelta(seconds=3600), lockout_threshold=1000,
        lockout=timedelta(seconds=900),
    )  # fmt: skip
    states = fail(999, rules)
    assert [wait_seconds(s, NOW) for s in states[:13]] == [2**n for n in range(12)] + [3600]
    assert {wait_seconds(s, NOW) for s in states[12:]} == {3600}
    assert states[-1].locked_until is None
    assert after_failure(states[-1], rules, NOW).locked_until == NOW + timedelta(seconds=900)


def test_the_lockout_wins_when_it_comes_no_later_than_the_delay() -> None:
    rules = ThrottleRules(
        delay_after=2, max_delay=timedelta(seconds=60), lockout_threshold=2,
        lockout=timedelta(seconds=5),
    )  # fmt: skip
    first, second = fail(2, rules)
    assert first == ThrottleState(1)
    assert second == ThrottleState(2, None, NOW + timedelta(seconds=5))
