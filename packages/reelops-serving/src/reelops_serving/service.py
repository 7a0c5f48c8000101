"""The reelops recommendation service (BentoML): one class, model loaded once.

Endpoints (JSON, POST): ``/recommend``, ``/recommend_batch``, ``/predict``,
``/similar``, ``/feedback``; probes ``/healthz``, ``/livez``, ``/readyz`` (ready
once the model is loaded) and Prometheus ``/metrics``; the OpenAPI document on
``/docs.json``. Which model is served comes from configuration
(:mod:`reelops_serving.config`): ``REELOPS_MODEL_TAG``, else the config file, else
the model the bento was built with (``--arg model_tag=...``), else the newest
``reelops-recommender``.

Serve from source::

    BENTOML_HOME=bentoml_home bentoml serve reelops_serving.service:Recommender

Latency (see reports/bench/serving.json): p99 tails of BentoML services are gen-2
garbage collections over the objects alive at the time; the service freezes
everything it loaded (``gc.freeze()``), runs gen-2 collections ten times less
often (:mod:`reelops_serving.heap`), keeps BentoML's per-request timer short
(``traffic.timeout``), returns pydantic models (no per-call schema), leaves the
access log and OpenTelemetry's per-request spans off and profiles requests in a
child process. BentoML's own HTTP metrics are off (they label every raw path:
unbounded files and ``/metrics``); the service's middlewares count requests with
bounded labels, refuse large or non-JSON bodies before they are read, charge rate
limits by work, and limit callers without a valid token per address. A
``/recommend`` of a known user filters the user's precomputed top-N
(:mod:`reelops_serving.topn`, built when the model loads) and asks the model only
when fewer than ``k`` movies pass; the movies its user rated through
``/feedback`` come from each worker's cache (:mod:`reelops_serving.exclusions`:
exact on SQLite, at most ``feedback.exclusion_cache_seconds`` old on PostgreSQL, a
worker's own writes seen at once).
Concurrent ``/predict`` requests share one model call
(:mod:`reelops_serving.batching`). ``/recommend``, ``/predict`` and ``/similar``
skip BentoML's endpoint wrapper (:mod:`reelops_serving.fast_path`, inside every
middleware): the same methods answer, through the same contract. The single-user
endpoints are ``async``: a millisecond of numpy work runs on the event loop instead
of paying a thread hand-off; the batch and feedback endpoints, which can take
longer, run in BentoML's thread. Numba kernels run on one thread
(``NUMBA_NUM_THREADS=1``): parallel kernels cost tens of milliseconds per call on a
busy machine, and workers are the unit of parallelism.
"""

from __future__ import annotations

import functools
import logging
import time
from pathlib import Path
from typing import TYPE_CHECKING, cast

import bentoml
import numpy as np
from bentoml.exceptions import NotFound
from pydantic import ValidationError
from sqlalchemy.exc import SQLAlchemyError

from reelops_contracts import STATUS_PROFILE_COLUMNS, VALIDATION_METADATA_KEY
from reelops_serving.api import DESCRIPTION, ENDPOINTS, ReelopsService
from reelops_serving.auth import BearerAuthMiddleware
from reelops_serving.batching import MicroBatcher
from reelops_serving.bundle import load_bundle
from reelops_serving.caller import PUBLIC_PATHS, caller_id
from reelops_serving.config import (
    DEFAULT_MODEL_TAG,
    load_settings,
    resolve_model_tag,
)
from reelops_serving.engine import (
    PredictQuery,
    Ranked,
    RecommenderEngine,
    check_rating_moment,
)
from reelops_serving.errors import (
    FeedbackConflictError,
    FeedbackRejectedError,
    FeedbackUnavailableError,
    IdempotencyKeyError,
    IdempotencyKeyReusedError,
    ModelBundleError,
    RequestError,
)
from reelops_serving.fast_path import FastPathMiddleware, FastRoute
from reelops_serving.feedback import FeedbackStore, FeedbackValidator, IdempotencyKey
from reelops_serving.heap import settle_heap
from reelops_serving.http_errors import ErrorEnvelopeMiddleware
from reelops_serving.limits import RequestLimitsMiddleware
from reelops_serving.metrics import (
    FEEDBACK,
    FEEDBACK_LOOKUPS,
    RECOMMENDATIONS,
    CoverageTracker,
    MetricsMiddleware,
    observe_answers,
    set_model_info,
)
from reelops_serving.metrics_server import MetricsServer
from reelops_serving.profile_sinks import make_profile_sink
from reelops_serving.profiling import RequestProfiler
from reelops_serving.ratelimit import RateLimitMiddleware
from reelops_serving.schemas import (
    MAX_BATCH_USERS,
    BatchRecommendRequest,
    BatchRecommendResponse,
    FeedbackRequest,
    FeedbackResponse,
    PredictRequest,
    PredictResponse,
    RecommendRequest,
    RecommendResponse,
    SimilarRequest,
    SimilarResponse,
    UserRecommendations,
)

if TYPE_CHECKING:
    from collections.abc import Mapping, Sequence, Set

__all__ = ["ENDPOINTS", "Recommender"]

logger = logging.getLogger(__name__)

#: BentoML's per-request timer lives this long, cancelled or not: the longer, the
#: more objects every gen-2 collection walks (measured p99 at 1 connection with
#: CPython's default GC thresholds: 18 ms with 2 s, 80 ms with 5 s, 130 ms with
#: BentoML's default 60 s; after settle_heap: 3.8 ms and 6.7 ms). A recommendation
#: takes milliseconds; a feedback write that times out may still commit, and its
#: retry is idempotent.
TRAFFIC_TIMEOUT_SECONDS = 2
#: Requests a worker accepts at once; beyond, BentoML answers 429.
MAX_CONCURRENCY = 128
#: Adaptive batching of /predict (reelops_serving.batching): concurrent requests
#: share one model call, up to this many pairs; 0 ms: the batch is answered at the
#: next turn of the event loop (requests parsed in the same turn share it, a lone
#: request waits for nothing).
PREDICT_MAX_BATCH_SIZE = 64
PREDICT_MAX_LATENCY_MS = 0.0
#: URL patterns OpenTelemetry skips (all of them, see the service decorator).
TRACING_EXCLUDED_URLS = [".*"]


class _ClientErrorFilter(logging.Filter):
    """Drop BentoML's tracebacks of refused requests (they are not server errors)."""

    def filter(self, record: logging.LogRecord) -> bool:
        exc = record.exc_info[1] if record.exc_info else None
        return not isinstance(exc, RequestError | ValidationError)


_BUILD_MODEL_TAG: str = getattr(bentoml.use_arguments(), "model_tag", DEFAULT_MODEL_TAG)
_settings = functools.partial(load_settings, default_model_tag=_BUILD_MODEL_TAG)


@bentoml.service(
    name="reelops_recommender",
    service_class=ReelopsService,
    description=DESCRIPTION,
    traffic={"timeout": TRAFFIC_TIMEOUT_SECONDS, "max_concurrency": MAX_CONCURRENCY},
    workers=1,
    logging={"access": {"enabled": False}},
    # OpenTelemetry's ASGI middleware costs milliseconds per request even when no
    # span is sampled (measured: ~4 ms of ~6 ms per /recommend on the bench box),
    # and no trace exporter is configured: tracing is off for every route. To
    # trace, override tracing.excluded_urls and set an exporter (BENTOML_CONFIG).
    tracing={"excluded_urls": TRACING_EXCLUDED_URLS},
    # BentoML's HTTP metrics label every raw request path: 300 requests to made-up
    # paths added 33 MB of Prometheus files and grew /metrics tenfold (#13). The
    # service's own reelops_http_* metrics (bounded labels) replace them, and it
    # serves /metrics itself (reelops_serving.metrics).
    metrics={"enabled": False},
    envs=[
        {"name": "NUMBA_NUM_THREADS", "value": "1"},
        {"name": "OMP_NUM_THREADS", "value": "1"},
    ],
    labels={"project": "reelops", "component": "recommender"},
)
class Recommender:
    """Movie recommendations from the packaged reelops model."""

    #: The packaged model; a bento build packs it (the tag is resolved at import).
    model = bentoml.models.BentoModel(
        resolve_model_tag(default_model_tag=_BUILD_MODEL_TAG)
    )

    def __init__(self) -> None:
        """Load the configuration, the model, the feedback store and the profiler.

        Raises:
            ServingConfigError: The configuration is invalid (e.g. staging without
                tokens).
            ModelBundleError: The configured model is not in the BentoML store.
        """
        self._ready = False
        self.settings = _settings()
        self.settings.api_tokens()  # fail at start-up, not on the first request
        tag = self.settings.model_tag
        try:
            stored = bentoml.models.get(tag)
        except NotFound as exc:
            raise ModelBundleError(
                f"model {tag} is not in the BentoML store: package one with "
                "`kedro run --pipeline packaging` or set REELOPS_MODEL_TAG"
            ) from exc
        bundle = load_bundle(
            Path(stored.path),
            tag=str(stored.tag),
            metadata=dict(stored.info.metadata),
            labels=dict(stored.info.labels),
        )
        self.engine = RecommenderEngine(
            bundle,
            top_n=self.settings.top_n.size,
            top_n_max_users=self.settings.top_n.max_users,
        )
        self.predictions = MicroBatcher(
            self.engine.predict_many,
            max_batch_size=PREDICT_MAX_BATCH_SIZE,
            max_latency_ms=PREDICT_MAX_LATENCY_MS,
        )
        self.validator = FeedbackValidator(
            bundle.metadata.get(VALIDATION_METADATA_KEY) or {}, self.engine.movie_ids
        )
        feedback = self.settings.feedback
        self.feedback_store = FeedbackStore(
            feedback.url.get_secret_value(),
            cache_seconds=feedback.exclusion_cache_seconds,
            cache_max_users=feedback.exclusion_cache_max_users,
        ).open()
        metrics = self.settings.metrics
        self.metrics_server: MetricsServer | None = None
        if metrics.port is not None:
            self.metrics_server = MetricsServer(metrics.host, metrics.port).start()
        profiling = self.settings.profiling
        self.profiler: RequestProfiler | None = None
        self.status_profiler: RequestProfiler | None = None
        if profiling.enabled:
            self.profiler = RequestProfiler(
                make_profile_sink(profiling.path),
                flush_interval_seconds=profiling.flush_interval_seconds,
                flush_max_rows=profiling.flush_max_rows,
                max_buffer_rows=profiling.max_buffer_rows,
                offload=profiling.offload,
            ).start()
            # every API answer's status and latency, beside the recommendations
            self.status_profiler = RequestProfiler(
                make_profile_sink(profiling.path, prefix="status"),
                flush_interval_seconds=profiling.flush_interval_seconds,
                flush_max_rows=profiling.flush_max_rows,
                max_buffer_rows=profiling.max_buffer_rows,
                offload=profiling.offload,
                columns=STATUS_PROFILE_COLUMNS,
            ).start()
            observe_answers(self.status_profiler.record_status)
        self.engine.warm_up()
        self.coverage = CoverageTracker(self.engine.n_movies)
        set_model_info(self.engine.tag, self.engine.labels, self.engine.estimator_name)
        server_log = logging.getLogger("bentoml._internal.server.http_app")
        if not any(isinstance(f, _ClientErrorFilter) for f in server_log.filters):
            server_log.addFilter(_ClientErrorFilter())
        logger.info(
            "serving %s (%s, %d movies) in %s",
            self.engine.tag,
            self.engine.estimator_name,
            self.engine.n_movies,
            self.settings.environment,
        )
        self._ready = True
        # The p99 tail is gen-2 collections: see reelops_serving.heap.
        settle_heap()

    def __is_ready__(self) -> bool:
        """Ready once the model is loaded (``/readyz``)."""
        return self._ready

    @bentoml.on_shutdown
    def close(self) -> None:
        """Flush the request profiles and release the feedback database."""
        self._ready = False
        if self.status_profiler is not None:
            observe_answers(None)
            self.status_profiler.close()
        if self.profiler is not None:
            self.profiler.close()
        if self.metrics_server is not None:
            self.metrics_server.close()
        self.feedback_store.close()

    # ---------------------------------------------------------------- helpers
    def _observe(
        self,
        endpoint: str,
        user_id: int,
        ranked: Ranked,
        *,
        k: int,
        genres: Sequence[str],
        exclude_seen: bool,
        latency_ms: float,
    ) -> None:
        RECOMMENDATIONS.labels("true" if ranked.fallback else "false").inc()
        self.coverage.add(ranked.rows.tolist())
        if self.profiler is not None:
            self.profiler.record(
                endpoint=endpoint,
                user_activity=self.engine.activity(user_id),
                k=k,
                genres=genres,
                exclude_seen=exclude_seen,
                cold_start=ranked.fallback,
                n_items=len(ranked.rows),
                top_score=float(ranked.scores[0]) if len(ranked.scores) else np.nan,
                latency_ms=latency_ms,
            )

    def _rated_since_training(
        self, user_ids: Sequence[int], exclude_seen: bool
    ) -> Mapping[int, Set[int]]:
        """Movies the users rated through ``/feedback`` (left out with the seen ones).

        The database not answering costs these exclusions, never the answer.
        """
        if not exclude_seen:
            return {}
        try:
            return self.feedback_store.rated_movies(user_ids)
        except SQLAlchemyError as exc:
            FEEDBACK_LOOKUPS.labels("unavailable").inc()
            logger.warning("rated movies not excluded: %s", str(exc).splitlines()[0])
            return {}

    # -------------------------------------------------------------------- API
    @bentoml.api(route="/recommend")
    async def recommend(self, request: RecommendRequest, /) -> RecommendResponse:
        """Top-k movies for one user (popular movies when the user is unknown)."""
        started = time.perf_counter()
        ranked = self.engine.recommend(
            [request.user_id],
            request.k,
            exclude_seen=request.exclude_seen,
            genres=request.genres,
            exclude=self._rated_since_training([request.user_id], request.exclude_seen),
        )[0]
        response = RecommendResponse.model_construct(
            user_id=request.user_id,
            items=self.engine.items(ranked),
            cold_start=ranked.fallback,
            model_version=self.engine.tag,
        )
        self._observe(
            "/recommend",
            request.user_id,
            ranked,
            k=request.k,
            genres=request.genres,
            exclude_seen=request.exclude_seen,
            latency_ms=(time.perf_counter() - started) * 1e3,
        )
        return response

    @bentoml.api(route="/recommend_batch")
    def recommend_batch(
        self, request: BatchRecommendRequest, /
    ) -> BatchRecommendResponse:
        """Top-k movies for many users with one model call."""
        started = time.perf_counter()
        ranked = self.engine.recommend(
            request.user_ids,
            request.k,
            exclude_seen=request.exclude_seen,
            genres=request.genres,
            exclude=self._rated_since_training(request.user_ids, request.exclude_seen),
        )
        results = [
            UserRecommendations.model_construct(
                user_id=user_id, items=self.engine.items(r), cold_start=r.fallback
            )
            for user_id, r in zip(request.user_ids, ranked, strict=True)
        ]
        latency_ms = (time.perf_counter() - started) * 1e3
        for user_id, r in zip(request.user_ids, ranked, strict=True):
            self._observe(
                "/recommend_batch",
                user_id,
                r,
                k=request.k,
                genres=request.genres,
                exclude_seen=request.exclude_seen,
                latency_ms=latency_ms,
            )
        return BatchRecommendResponse.model_construct(
            results=results, model_version=self.engine.tag
        )

    @bentoml.api(route="/predict")
    async def predict(self, request: PredictRequest, /) -> PredictResponse:
        """The rating a user would give a movie (404 for a movie not in the catalog).

        With a ``timestamp`` (422 when later than the server's clock allows), a
        time-aware model adds the user's offset of that day. Concurrent requests
        share one model call (adaptive batching; one per kind: with and without a
        timestamp).
        """
        self.engine.row(request.movie_id)  # 404 before queueing
        if request.timestamp is not None:
            check_rating_moment(request.timestamp, now=time.time())
        rating, fallback = await self.predictions.submit(
            PredictQuery(request.user_id, request.movie_id, request.timestamp)
        )
        return PredictResponse(
            user_id=request.user_id,
            movie_id=request.movie_id,
            rating=rating,
            cold_start=fallback,
            model_version=self.engine.tag,
        )

    @bentoml.api(route="/similar")
    async def similar(self, request: SimilarRequest, /) -> SimilarResponse:
        """Movies similar to a movie (404 for a movie not in the catalog)."""
        ranked = self.engine.similar(request.movie_id, request.k)
        return SimilarResponse.model_construct(
            movie_id=request.movie_id,
            title=self.engine.title(self.engine.row(request.movie_id)),
            items=self.engine.items(ranked),
            fallback=ranked.fallback,
            model_version=self.engine.tag,
        )

    @bentoml.api(route="/feedback")
    def feedback(
        self, request: FeedbackRequest, /, ctx: bentoml.Context
    ) -> FeedbackResponse:
        """Store a rating; validated like ingested data, idempotent, committed.

        Raises:
            IdempotencyKeyError: The Idempotency-Key header is invalid, or missing
                from a rating without a timestamp.
        """
        key = IdempotencyKey.from_header(
            ctx.request.headers.get("idempotency-key"),
            caller=caller_id(ctx.request.scope) or "",
        )
        if key is None and request.timestamp is None:
            raise IdempotencyKeyError(
                "feedback without a timestamp needs an Idempotency-Key header (a "
                "new UUID per rating, the same on retries), or send the timestamp"
            )
        try:
            record = self.validator.validate(
                request.user_id, request.movie_id, request.rating, request.timestamp
            )
            if key is None:
                created = self.feedback_store.save(
                    record, model_version=self.engine.tag
                )
            else:
                record, created = self.feedback_store.save_once(
                    record,
                    key=key,
                    requested_timestamp=request.timestamp,
                    model_version=self.engine.tag,
                )
        except FeedbackRejectedError:
            FEEDBACK.labels("rejected").inc()
            raise
        except (FeedbackConflictError, IdempotencyKeyReusedError):
            FEEDBACK.labels("conflict").inc()
            raise
        except SQLAlchemyError as exc:
            FEEDBACK.labels("unavailable").inc()
            logger.error("feedback not stored: %s", str(exc).splitlines()[0])
            raise FeedbackUnavailableError(
                "the feedback database is unavailable: the rating was not stored, "
                "retry later"
            ) from exc
        FEEDBACK.labels("created" if created else "duplicate").inc()
        return FeedbackResponse(
            created=created,
            user_id=record.user_id,
            movie_id=record.movie_id,
            rating=record.rating,
            timestamp=record.timestamp,
        )


_service = cast("bentoml.Service[Recommender]", Recommender)
#: Paths with their own label in the request metrics.
_METRIC_ROUTES = {ep.route for ep in ENDPOINTS} | PUBLIC_PATHS | {"/docs.json", "/"}
#: Batch endpoints, and the body field whose items each cost one unit of rate.
_BATCH_FIELDS = {"/recommend_batch": "user_ids"}
#: The single-item async endpoints, answered without BentoML's endpoint wrapper
#: (reelops_serving.fast_path): the same functions, the same answers.
_FAST_ROUTES = {
    ep.route: FastRoute(ep.request, _service.apis[ep.name].func)
    for ep in ENDPOINTS
    if ep.name in ("recommend", "predict", "similar")
}


# Outermost first: metrics see every answer (401, 413 and 429 included), errors
# are rewritten into one body, then authentication (callers without a valid token
# limited per address), body size and media type (from the headers, before any
# byte is parsed), then the rate limit per token, charged by work; innermost, the
# fast path answers the single-item endpoints.
_service.add_asgi_middleware(
    MetricsMiddleware, routes=_METRIC_ROUTES, settings=_settings
)
_service.add_asgi_middleware(ErrorEnvelopeMiddleware)
_service.add_asgi_middleware(BearerAuthMiddleware, settings=_settings)
_service.add_asgi_middleware(
    RequestLimitsMiddleware,
    settings=_settings,
    json_routes=[ep.route for ep in ENDPOINTS],
    batch_routes=_BATCH_FIELDS,
)
_service.add_asgi_middleware(
    RateLimitMiddleware,
    settings=_settings,
    batch_fields=_BATCH_FIELDS,
    max_cost=MAX_BATCH_USERS,
)
_service.add_asgi_middleware(
    FastPathMiddleware,
    routes=_FAST_ROUTES,
    server=f"BentoML Service/{_service.name}",
)
