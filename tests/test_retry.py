"""Transient faults are retried with backoff; bugs are not."""

from __future__ import annotations

import docker.errors
import pytest
import requests

from benchgen_dagster.errors import with_retries
from benchgen_dagster.sandbox.docker import daemon_hiccup


def failing(times: int, error: Exception):  # type: ignore[no-untyped-def]
    calls = []

    def action() -> str:
        calls.append(1)
        if len(calls) <= times:
            raise error
        return "done"

    return action, calls


def api_error(status: int) -> docker.errors.APIError:
    response = requests.Response()
    response.status_code, response.url, response.reason = status, "http+docker://daemon", "test"
    return docker.errors.APIError(f"status {status}", response=response)


def test_a_transient_daemon_error_is_retried_with_growing_delays() -> None:
    action, calls = failing(2, api_error(503))
    delays: list[float] = []
    assert with_retries(action, daemon_hiccup, sleep=delays.append) == "done"
    assert len(calls) == 3 and len(delays) == 2 and delays[1] > delays[0] * 0.3


def test_a_lost_connection_is_retried() -> None:
    action, calls = failing(1, requests.exceptions.ConnectionError("refused"))
    assert with_retries(action, daemon_hiccup, sleep=lambda _: None) == "done"
    assert len(calls) == 2


def test_a_bad_request_is_a_bug_and_is_not_retried() -> None:
    action, calls = failing(1, api_error(404))
    with pytest.raises(docker.errors.APIError):
        with_retries(action, daemon_hiccup, sleep=lambda _: None)
    assert len(calls) == 1


def test_retries_give_up_after_the_last_attempt() -> None:
    action, calls = failing(10, requests.exceptions.ConnectionError("down"))
    with pytest.raises(requests.exceptions.ConnectionError):
        with_retries(action, daemon_hiccup, attempts=3, sleep=lambda _: None)
    assert len(calls) == 3
