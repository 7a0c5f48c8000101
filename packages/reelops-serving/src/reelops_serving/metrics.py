"""Prometheus metrics of the service (``prometheus_client``), served on ``/metrics``.

BentoML runs every worker with ``PROMETHEUS_MULTIPROC_DIR`` set: each process
writes its samples to files there, one entry per label set, and
:func:`render_metrics` merges them. Every label therefore takes a bounded set of
values: unknown paths share ``endpoint="other"`` and unknown methods
``method="OTHER"``. BentoML's own HTTP metrics are off (the service's decorator):
they label every raw path, so a flood of made-up paths grew their files and
``/metrics`` without bound. ``/metrics`` is answered here on the API port, or on
its own port (``metrics.port``, :mod:`reelops_serving.metrics_server`), where
the API's ingress does not reach, because ``reelops_model_info`` names the git
commit and run of the model. Useful queries::

    # requests and errors by endpoint and status
    sum by (endpoint, status) (rate(reelops_http_requests_total[5m]))
    # p99 latency by endpoint
    histogram_quantile(0.99, sum by (le, endpoint)
        (rate(reelops_http_request_duration_seconds_bucket[5m])))
    # cold-start rate
    sum(rate(reelops_recommendations_total{cold_start="true"}[5m]))
        / sum(rate(reelops_recommendations_total[5m]))
"""

from __future__ import annotations

import asyncio
import os
import time
from typing import TYPE_CHECKING

import anyio.to_thread
import numpy as np
from prometheus_client import (
    CONTENT_TYPE_LATEST,
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)
from starlette.responses import Response

from reelops_contracts import STATUS_ENDPOINTS

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping

    from starlette.types import ASGIApp, Message, Receive, Scope, Send

    from reelops_serving.config import ServingSettings

__all__ = [
    "COVERAGE",
    "FEEDBACK",
    "FEEDBACK_LOOKUPS",
    "MODEL_INFO",
    "PROFILE_ROWS",
    "RECOMMENDATIONS",
    "REQUESTS",
    "REQUEST_SECONDS",
    "CoverageTracker",
    "MetricsMiddleware",
    "observe_answers",
    "render_metrics",
    "set_model_info",
]

#: Methods with their own label value; any other is counted as ``OTHER``.
_METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})

REQUESTS = Counter(
    "reelops_http_requests_total",
    "HTTP requests answered, by endpoint, method and status code.",
    ["endpoint", "method", "status"],
)
REQUEST_SECONDS = Histogram(
    "reelops_http_request_duration_seconds",
    "Time to answer an HTTP request (auth and rate limiting included), by endpoint.",
    ["endpoint"],
    buckets=(
        0.0005,
        0.001,
        0.002,
        0.005,
        0.01,
        0.02,
        0.05,
        0.1,
        0.25,
        0.5,
        1.0,
        2.5,
        5.0,
    ),
)
RECOMMENDATIONS = Counter(
    "reelops_recommendations_total",
    "Users answered by /recommend and /recommend_batch, by whether the user was "
    "unknown to the model (cold start: popularity fallback).",
    ["cold_start"],
)
COVERAGE = Gauge(
    "reelops_recommended_catalog_coverage_ratio",
    "Share of the catalog recommended at least once since the worker started.",
    multiprocess_mode="max",
)
MODEL_INFO = Gauge(
    "reelops_model_info",
    "The model being served (always 1), labelled with its tag and lineage.",
    [
        "model_tag",
        "registered_model",
        "model_version",
        "mlflow_run_id",
        "git_sha",
        "candidate",
        "estimator",
    ],
    multiprocess_mode="max",
)
FEEDBACK = Counter(
    "reelops_feedback_total",
    "Feedback records by outcome (created, duplicate, rejected, conflict).",
    ["outcome"],
)
FEEDBACK_LOOKUPS = Counter(
    "reelops_feedback_lookups_total",
    "Lookups of the movies a user rated through /feedback (left out of "
    "/recommend) that failed, by outcome.",
    ["outcome"],
)
PROFILE_ROWS = Counter(
    "reelops_request_profile_rows_total",
    "Request-profile rows by outcome (written, dropped when the buffer was full, "
    "failed when the sink raised).",
    ["outcome"],
)


def set_model_info(tag: str, labels: Mapping[str, str], estimator: str) -> None:
    """Export the served model's identity as ``reelops_model_info``."""
    MODEL_INFO.labels(
        model_tag=tag,
        registered_model=labels.get("registered_model", ""),
        model_version=labels.get("model_version", ""),
        mlflow_run_id=labels.get("mlflow_run_id", ""),
        git_sha=labels.get("git_sha", ""),
        candidate=labels.get("candidate", ""),
        estimator=estimator,
    ).set(1)


def render_metrics() -> bytes:
    """Every metric of every worker, in the Prometheus text format.

    With ``PROMETHEUS_MULTIPROC_DIR`` set (``bentoml serve``), the files of every
    process are merged, as BentoML's own endpoint does.
    """
    if not os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        return generate_latest(REGISTRY)
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry)
    return generate_latest(registry)


class CoverageTracker:
    """Which catalog rows were recommended at least once; exports the share."""

    def __init__(self, n_movies: int) -> None:
        self._seen = np.zeros(max(n_movies, 1), dtype=bool)
        self._count = 0

    def add(self, rows: Iterable[int]) -> None:
        """Mark ``rows`` as recommended and update the gauge."""
        changed = False
        for row in rows:
            if not self._seen[row]:
                self._seen[row] = True
                self._count += 1
                changed = True
        if changed:
            COVERAGE.set(self._count / len(self._seen))

    @property
    def ratio(self) -> float:
        """Share of the catalog recommended so far."""
        return self._count / len(self._seen)


#: Called with (endpoint, status, latency in ms) after every answer of an API
#: endpoint (``STATUS_ENDPOINTS``): the service's status profiler, when profiling.
_answer_observer: Callable[[str, int, float], None] | None = None


def observe_answers(observer: Callable[[str, int, float], None] | None) -> None:
    """Hand every API answer's endpoint, status and latency to ``observer``.

    The middleware of this process calls it after each answer (``None``: stop).
    It must be cheap and must not raise: it runs on the request path.
    """
    global _answer_observer  # noqa: PLW0603 - one observer per worker process
    _answer_observer = observer


class MetricsMiddleware:
    """Count requests and time them by endpoint; answer ``GET /metrics``.

    Answers of the API endpoints also go to the observer of
    :func:`observe_answers` (the status profile monitoring reads).

    Args:
        app: The wrapped ASGI app.
        routes: Paths that get their own ``endpoint`` label (the others share
            ``other``).
        settings: The settings, or a callable returning them (called once):
            ``GET /metrics`` is answered here unless ``metrics.port`` is set (then
            the path is unknown on this port).
    """

    def __init__(
        self,
        app: ASGIApp,
        *,
        routes: Iterable[str],
        settings: ServingSettings | Callable[[], ServingSettings],
    ) -> None:
        resolved = settings() if callable(settings) else settings
        self.app = app
        self.routes = frozenset(routes)
        self.expose = resolved.metrics.port is None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        """Forward the request and record its status and duration."""
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        app = self.app
        if (
            self.expose
            and scope["path"] == "/metrics"
            and scope["method"] in ("GET", "HEAD")
        ):
            app = _serve_metrics
        started = time.perf_counter()
        status = 500

        async def record_status(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await app(scope, receive, record_status)
        except asyncio.CancelledError:
            status = 504  # BentoML's timeout cancelled the request
            raise
        finally:
            path = scope["path"]
            endpoint = path if path in self.routes else "other"
            method = scope["method"]
            REQUESTS.labels(
                endpoint, method if method in _METHODS else "OTHER", str(status)
            ).inc()
            seconds = time.perf_counter() - started
            REQUEST_SECONDS.labels(endpoint).observe(seconds)
            observer = _answer_observer
            if observer is not None and endpoint in STATUS_ENDPOINTS:
                observer(endpoint, status, seconds * 1000.0)


async def _serve_metrics(scope: Scope, receive: Receive, send: Send) -> None:
    # Reading every worker's files takes milliseconds: off the event loop.
    body = await anyio.to_thread.run_sync(render_metrics)
    await Response(body, media_type=CONTENT_TYPE_LATEST)(scope, receive, send)
