"""Backoff for retryable failures: exponential growth with full jitter.

Full jitter (a uniform draw in ``[0, delay]``) spreads the retries of many
callers that failed together, which is what hurts a recovering service least.
"""

from __future__ import annotations

import random

from weft.protocols import ActionResult, ActionState, RetryPolicy


def backoff_delay(policy: RetryPolicy, attempt: int, rng: random.Random | None = None) -> float:
    """Seconds to wait after failed ``attempt`` (1-based) before the next one."""
    delay = min(policy.max_delay, policy.initial_delay * policy.multiplier ** (attempt - 1))
    if policy.jitter:
        delay = (rng or random).uniform(0.0, delay)
    return delay


def should_retry(policy: RetryPolicy, result: ActionResult, attempt: int) -> bool:
    """True when another attempt is allowed and may help."""
    if attempt >= policy.max_attempts:
        return False
    if result.state is ActionState.TIMEOUT:
        return policy.retry_on_timeout
    return result.state is ActionState.ERROR and result.error is not None and result.error.retryable
