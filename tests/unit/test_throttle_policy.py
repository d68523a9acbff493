"""The lookup throttle's policy (rule 57): bounded guessing, bounded waiting."""

from __future__ import annotations

from verify.domain.throttle import ThrottlePolicy


def test_rule_57_wrong_names_back_off_doubling_to_a_cap() -> None:
    policy = ThrottlePolicy(free_failures=5, base_seconds=30, max_seconds=900)
    assert [policy.closed_for(n) for n in range(5)] == [0] * 5
    assert [policy.closed_for(n) for n in range(5, 12)] == [30, 60, 120, 240, 480, 900, 900]
    assert policy.backoff_steps() == [30, 60, 120, 240, 480, 900]
    # A huge allowance (the browser tests', the benchmarks') costs nothing to represent.
    assert ThrottlePolicy(free_failures=10**9).backoff_steps() == [30, 60, 120, 240, 480, 900]
    assert policy.closed_for(10**6) == 900  # the exponent is capped: no huge integers


def test_rule_57_guessing_is_bounded_and_the_holder_waits_minutes_not_a_day() -> None:
    policy = ThrottlePolicy()
    # After the back-off reaches its cap, one guess per 15 minutes: about a hundred a day at most,
    # against an unbounded number without a per-target limit.
    assert policy.guesses_per_day() == 105
    assert max(policy.backoff_steps()) == policy.max_seconds == 900
    tighter = ThrottlePolicy(max_seconds=3600)
    assert tighter.guesses_per_day() < policy.guesses_per_day()
