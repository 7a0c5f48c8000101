"""Whether the service's own answers call for a human: errors and latency.

Retraining fixes a model that no longer fits its traffic; it does not fix server
errors, a client sending malformed requests, or slow answers. :func:`judge_health`
reads a window's answer counts and latency quantiles (the status profiles the
service writes, summarized by ``reelops.serving_summary``) and says ``page`` with
one reason per limit passed (:class:`~reelops_monitoring.config.
ServingHealthConfig`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Mapping

    from reelops_monitoring.config import ServingHealthConfig

__all__ = ["Health", "judge_health"]


@dataclass(frozen=True)
class Health:
    """The verdict on a window's answers: page or not, why, and what was judged."""

    page: bool
    reasons: tuple[str, ...] = ()
    checks: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready."""
        return {"page": self.page, "reasons": list(self.reasons), **self.checks}


def judge_health(
    answers: Mapping[str, Any] | None, config: ServingHealthConfig
) -> Health:
    """Page when error rates or an endpoint's p99 latency pass their limits.

    Args:
        answers: ``{"available", "requests", "by_class": {"2xx": n, ...},
            "by_status": {"429": n, ...},
            "latency_ms": {endpoint: {"p99": ms, "count": n}}}`` (``reason``
            when not available).
        config: The limits.

    Returns:
        ``page`` with its reasons; ``checks`` says what was judged and what was
        not (too few answers, no status profiles).
    """
    if not answers or not answers.get("available"):
        why = (answers or {}).get("reason", "no status profiles")
        return Health(page=False, checks={"assessed": False, "reason": why})
    total = int(answers.get("requests") or 0)
    if total < config.min_requests:
        why = f"{total} API answer(s) in the window, fewer than {config.min_requests}"
        return Health(page=False, checks={"assessed": False, "reason": why})
    by_class = answers.get("by_class") or {}
    # 429s are the service shedding a caller's excess load as configured: counted
    # apart (rate_429), not as client errors
    limited = int((answers.get("by_status") or {}).get("429", 0))
    counts = {
        "5xx": int(by_class.get("5xx", 0)),
        "4xx": max(int(by_class.get("4xx", 0)) - limited, 0),
    }
    reasons = []
    rates = {}
    for name, limit in (("5xx", config.max_5xx_rate), ("4xx", config.max_4xx_rate)):
        count = counts[name]
        rate = count / total
        rates[f"rate_{name}"] = round(rate, 6)
        if rate > limit:
            apart = " other than 429" if name == "4xx" else ""
            reasons.append(
                f"page: {name} rate{apart} {rate:.2%} > {limit:.2%} ({count:,} of "
                f"{total:,} API answers; errors are not fixed by retraining)"
            )
    rates["rate_429"] = round(limited / total, 6)
    latency = answers.get("latency_ms") or {}
    for name, limit in config.max_p99_ms.items():
        endpoint = f"/{name}"
        p99 = (latency.get(endpoint) or {}).get("p99")
        if p99 is not None and p99 > limit:
            count = int((latency.get(endpoint) or {}).get("count") or 0)
            reasons.append(
                f"page: {endpoint} p99 latency {p99:g} ms > {limit:g} ms "
                f"({count:,} answers; latency is not fixed by retraining)"
            )
    return Health(
        page=bool(reasons),
        reasons=tuple(reasons),
        checks={"assessed": True, "requests": total, **rates},
    )
