"""Errors a user can fix (bad input or configuration, as opposed to bugs), and retries of
faults that pass.

The command line shows them as one line naming the problem and the fix, without a traceback.
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Callable
from typing import TypeVar


class UserError(Exception):
    """Something the user gave or configured is wrong; the message says what and how to fix."""


class ConfigError(UserError):
    """An environment variable or setting has a value benchgen cannot use."""


def env_int(name: str, default: int, minimum: int = 1) -> int:
    """A whole-number setting from the environment, or a ConfigError saying what is wrong."""
    raw = os.environ.get(name)
    if raw is None or raw.strip() == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise ConfigError(f"{name} must be a whole number, got {raw!r}") from None
    if value < minimum:
        raise ConfigError(f"{name} must be at least {minimum}, got {value}")
    return value


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
