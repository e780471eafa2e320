"""Errors a user can fix: bad input or configuration, as opposed to bugs.

The command line shows them as one line naming the problem and the fix, without a traceback.
"""

from __future__ import annotations

import os


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
