"""How public lookups are throttled (rule 57; docs/SECURITY.md §3, DECISIONS D22).

Two budgets, shared by every web worker (the counters live in PostgreSQL, ``verify.db.throttle``):

- **per address**: at most ``per_address`` lookups per fixed ``window`` (seconds) from one client
  address, whatever they ask for;
- **per target** (a certificate number, or an ID number's blind index): after ``free_failures``
  wrong names in a row the target closes for ``base_seconds``, and each further wrong name closes
  it for twice as long as the last, capped at ``max_seconds``. The count starts again after ``quiet_seconds`` without a wrong name, and a
  correct answer clears it.

A closed target answers 429 to everyone, the holder too: answering the right name while closed
would tell a guesser when the guess is right. The cap bounds how long the holder waits; the
doubling bounds the guesses (see ``guesses_per_day``).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class ThrottlePolicy:
    per_address: int = 10
    window: int = 60
    free_failures: int = 5
    base_seconds: int = 30
    max_seconds: int = 900
    quiet_seconds: int = 24 * 3600

    def closed_for(self, failures: int) -> int:
        """Seconds a target stays closed after its ``failures``-th wrong name in a row (0 = open)."""
        over = failures - self.free_failures
        if over < 0:
            return 0
        # Python ints do not overflow, but a capped exponent keeps the product small.
        return min(self.max_seconds, self.base_seconds << min(over, 32))

    def backoff_steps(self) -> list[int]:
        """``closed_for(free_failures + k)`` for k = 0, 1, ... up to the first capped entry (which
        then repeats): the whole back-off, whatever ``free_failures`` is."""
        steps = [self.closed_for(self.free_failures)]
        while steps[-1] < self.max_seconds:
            steps.append(self.closed_for(self.free_failures + len(steps)))
        return steps

    def guesses_per_day(self) -> int:
        """Most wrong names one target can take in 24 hours, however many addresses guess."""
        guesses, elapsed = self.free_failures, 0
        while True:
            wait = self.closed_for(guesses + 1)
            if elapsed + wait > 24 * 3600:
                return guesses + 1  # the guess that closed it for the rest of the day
            elapsed += wait
            guesses += 1
