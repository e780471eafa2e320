"""Retries with exponential backoff and jitter, for faults that pass (never for bugs)."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")


def with_retries(
    action: Callable[[], T],
    transient: Callable[[BaseException], bool],
    attempts: int = 4,
    base_delay_s: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """`action()`, tried again after a transient error: 0.5 s, 1 s, 2 s … each ±50%."""
    for attempt in range(1, attempts + 1):
        try:
            return action()
        except Exception as error:
            if attempt == attempts or not transient(error):
                raise
            delay = base_delay_s * 2 ** (attempt - 1) * random.uniform(0.5, 1.5)
            log.warning(
                "transient error (%s); attempt %d of %d in %.1f s",
                error,
                attempt + 1,
                attempts,
                delay,
            )
            sleep(delay)
    raise AssertionError("unreachable")
