"""Failed-login throttling: a growing delay, then a lockout (pure rules, no clock of its own).

Counters are kept per username (whether or not the user exists, so that an unknown name
behaves as a known one) and per source address.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Final

_SECOND: Final = timedelta(seconds=1)
# 2**40 s is some 35,000 years: beyond any max_delay, and well inside what a timedelta holds
# (2**47 s overflows it). Larger exponents are the cap itself, without computing the power.
_MAX_DOUBLINGS: Final = 40


@dataclass(frozen=True, slots=True)
class ThrottleRules:
    """When failures start to cost time, and when they lock the subject out."""

    delay_after: int
    max_delay: timedelta
    lockout_threshold: int
    lockout: timedelta


@dataclass(frozen=True, slots=True)
class ThrottleState:
    """Failures in a row, and until when the next attempt waits or the subject is locked."""

    failures: int = 0
    next_attempt_at: datetime | None = None
    locked_until: datetime | None = None


def wait_seconds(state: ThrottleState, now: datetime) -> int:
    """Return how many whole seconds the subject must wait before an attempt counts (0: none)."""
    ends = [t for t in (state.locked_until, state.next_attempt_at) if t is not None and t > now]
    if not ends:
        return 0
    # Rounded up (and so at least 1): a client that waits what it is told is not refused again.
    return -(-(max(ends) - now) // _SECOND)


def after_failure(state: ThrottleState, rules: ThrottleRules, now: datetime) -> ThrottleState:
    """Return the state after one more failure.

    A lockout that has ended starts the count again. From ``delay_after`` failures on, each
    failure doubles the wait (1 s, 2 s, 4 s, ... up to ``max_delay``); at
    ``lockout_threshold`` the subject is locked for ``lockout``.
    """
    failures = state.failures
    if state.locked_until is not None and state.locked_until <= now:
        failures = 0
    failures += 1
    if failures >= rules.lockout_threshold:
        return ThrottleState(failures, None, now + rules.lockout)
    if failures < rules.delay_after:
        return ThrottleState(failures)
    doublings = failures - rules.delay_after
    if doublings >= _MAX_DOUBLINGS:
        return ThrottleState(failures, now + rules.max_delay)
    delay = min(timedelta(seconds=2**doublings), rules.max_delay)
    return ThrottleState(failures, now + delay)
