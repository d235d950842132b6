"""When the executor tries a failed call again; how long it waits is ``RetryPolicy.delay``."""

from __future__ import annotations

from weft.protocols import ActionResult, ActionState, RetryPolicy


def should_retry(policy: RetryPolicy, result: ActionResult, attempt: int) -> bool:
    """True when another attempt is allowed and may help."""
    if attempt >= policy.max_attempts:
        return False
    if result.state is ActionState.TIMEOUT:
        return policy.retry_on_timeout
    return result.state is ActionState.ERROR and result.error is not None and result.error.retryable
