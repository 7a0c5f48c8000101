"""The service's own answers: when errors and latency page a human."""

from __future__ import annotations

import re

import pytest
from pydantic import ValidationError

from reelops_monitoring import judge_health
from reelops_monitoring.config import ServingHealthConfig

CONFIG = ServingHealthConfig()


def answers(n: int, **by_class: int) -> dict:
    return {
        "available": True,
        "requests": n,
        "by_class": {"2xx": n - sum(by_class.values()), **by_class},
        "by_status": {"429": 0},
        "latency_ms": {"/recommend": {"count": n, "p99": 8.0}},
    }


def test_healthy_answers_do_not_page() -> None:
    health = judge_health(answers(1000, **{"4xx": 30, "5xx": 5}), CONFIG)
    assert (health.page, health.reasons) == (False, ())
    assert health.checks == {
        "assessed": True,
        "requests": 1000,
        "rate_5xx": 0.005,
        "rate_4xx": 0.03,
        "rate_429": 0.0,
    }


def test_rate_limited_answers_are_counted_apart_not_paged() -> None:
    # GIVEN 400 4xx answers of 1,000, 380 of them 429s (a caller over its limit)
    window = answers(1000, **{"4xx": 400})
    window["by_status"] = {"200": 600, "422": 20, "429": 380}
    health = judge_health(window, CONFIG)
    # THEN only the 20 others are client errors: nothing to page about
    assert (health.page, health.checks["rate_4xx"], health.checks["rate_429"]) == (
        False,
        0.02,
        0.38,
    )


def test_each_limit_passed_is_one_reason() -> None:
    window = answers(1000, **{"4xx": 300, "5xx": 20})
    window["latency_ms"]["/similar"] = {"count": 40, "p99": 250.0}
    health = judge_health(window, CONFIG)
    assert health.page is True
    assert health.reasons == (
        "page: 5xx rate 2.00% > 1.00% (20 of 1,000 API answers; errors are not "
        "fixed by retraining)",
        "page: 4xx rate other than 429 30.00% > 25.00% (300 of 1,000 API answers; "
        "errors are not fixed by retraining)",
        "page: /similar p99 latency 250 ms > 100 ms (40 answers; latency is not "
        "fixed by retraining)",
    )


@pytest.mark.parametrize(
    ("window", "reason"),
    [
        (None, "no status profiles"),
        (
            {"available": False, "reason": "no status profile for x"},
            "no status profile for x",
        ),
        (answers(99, **{"5xx": 99}), "99 API answer(s) in the window, fewer than 100"),
    ],
)
def test_too_little_to_judge_is_said_not_paged(window, reason) -> None:
    health = judge_health(window, CONFIG)
    assert health.page is False
    assert health.checks == {"assessed": False, "reason": reason}


def test_a_latency_limit_for_an_unknown_endpoint_is_refused() -> None:
    with pytest.raises(
        ValidationError,
        match=re.escape(
            "max_p99_ms names unknown endpoints ['recomend']: expected some of "
            "['recommend', 'predict', 'similar', 'feedback']"
        ),
    ):
        ServingHealthConfig(max_p99_ms={"recomend": 50})
