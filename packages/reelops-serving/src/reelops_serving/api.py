"""The service's public API as documented: its endpoints and OpenAPI document.

:data:`ENDPOINTS` lists every endpoint with its request and response models, summary
and error answers; :class:`ReelopsService` is the BentoML service class whose
``/docs.json`` is :func:`~reelops_serving.openapi.build_openapi`'s document for
them (security, errors, examples). :mod:`reelops_serving.service` implements the
endpoints.
"""

from __future__ import annotations

from typing import Any

import attrs
import bentoml
import yaml
from bentoml._internal.service.openapi.specification import (
    Info,
    OpenAPISpecification,
)

from reelops_serving.openapi import Endpoint, build_openapi
from reelops_serving.schemas import (
    IDEMPOTENCY_KEY_HEADER,
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
)

__all__ = ["DESCRIPTION", "ENDPOINTS", "ReelopsService"]

DESCRIPTION = (
    "Movie recommendations from the model the reelops pipeline registered and "
    "packaged: top-k movies for a user (popular movies for a user the model does "
    "not know), predicted ratings, similar movies, and feedback ratings stored for "
    "retraining. Send `Authorization: Bearer <token>` to every endpoint but the "
    "probes and /metrics when the service has tokens configured. Bodies are JSON "
    "(`Content-Type: application/json`), at most 64 KiB (1 MiB for a batch) by "
    "default."
)

ENDPOINTS: list[Endpoint] = [
    Endpoint(
        route="/recommend",
        name="recommend",
        summary="Top-k movies for one user.",
        description="Unknown users get the most popular movies (cold_start true). "
        "`genres` keeps movies having at least one of the genres.",
        request=RecommendRequest,
        response=RecommendResponse,
    ),
    Endpoint(
        route="/recommend_batch",
        name="recommend_batch",
        summary="Top-k movies for up to 1000 users in one call.",
        description="One model call for every user: cheaper per user than /recommend.",
        request=BatchRecommendRequest,
        response=BatchRecommendResponse,
    ),
    Endpoint(
        route="/predict",
        name="predict",
        summary="The rating a user would give a movie.",
        description="An unknown user or a movie the model never saw is answered by "
        "the bias fallback (cold_start true). With a timestamp (Unix seconds of the "
        "rating moment, at most 300 s ahead of the server's clock), a model with a "
        "time-aware bias adds the user's offset of that UTC day; without one, no "
        "such term.",
        request=PredictRequest,
        response=PredictResponse,
        errors={
            404: "The movie is not in the catalog.",
            422: "The timestamp is more than 300 s after the server's clock.",
        },
    ),
    Endpoint(
        route="/similar",
        name="similar",
        summary="Movies similar to a movie.",
        description="The model's item similarity; movies sharing the most genres "
        "(most popular first) when the model has none for it (fallback true).",
        request=SimilarRequest,
        response=SimilarResponse,
        errors={404: "The movie is not in the catalog."},
    ),
    Endpoint(
        route="/feedback",
        name="feedback",
        summary="Store a rating a user gave a movie.",
        description="Validated like ingested ratings (same rules, same messages), "
        "committed before the answer. Retries are safe: a rating is idempotent on "
        "(user_id, movie_id, timestamp), and one without a timestamp (the server's "
        "clock) must carry an `Idempotency-Key` header: a retry with the same key "
        "answers the record stored first (`created` false), even when the first "
        "answer was lost (e.g. a 504 after the commit).",
        request=FeedbackRequest,
        response=FeedbackResponse,
        errors={
            400: "Invalid body, invalid Idempotency-Key, or no timestamp and no "
            "Idempotency-Key.",
            409: "The same (user, movie, timestamp) is stored with another rating.",
            422: "The rating breaks a rule of ingested ratings (reason in `error`), "
            "or the Idempotency-Key was used for another rating.",
        },
        headers=(IDEMPOTENCY_KEY_HEADER,),
    ),
]


@attrs.frozen
class _OpenAPIDocument(OpenAPISpecification):
    """BentoML's spec type, carrying the document :func:`build_openapi` made."""

    document: dict[str, Any] = attrs.field(factory=dict)

    def asdict(self) -> dict[str, Any]:
        """The OpenAPI document."""
        return self.document


yaml.add_representer(
    _OpenAPIDocument, lambda dumper, spec: dumper.represent_dict(spec.asdict())
)


class ReelopsService(bentoml.Service[Any]):
    """A BentoML service whose OpenAPI document is :func:`build_openapi`'s."""

    @property
    def openapi_spec(self) -> OpenAPISpecification:
        """The complete OpenAPI document (security, errors, examples)."""
        version = self.bento.tag.version if self.bento is not None else None
        document = build_openapi(
            title="reelops recommender",
            version=str(version or "dev"),
            description=DESCRIPTION,
            endpoints=ENDPOINTS,
        )
        info = Info(
            title=document["info"]["title"], version=document["info"]["version"]
        )
        return _OpenAPIDocument(
            openapi="3.1.0", info=info, paths={}, servers=[], document=document
        )
