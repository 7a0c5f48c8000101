"""The service's OpenAPI 3.1 document, built from its pydantic models.

BentoML's generator flattens optional fields, knows nothing of authentication and
documents error bodies the service never sends, so the document served on
``/docs.json`` (and written to the bento's ``apis/openapi.yaml``) is built here:
every endpoint with its request and response schemas, examples, the bearer
security scheme, and every status it can answer with the error body it carries.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from http import HTTPStatus
from typing import TYPE_CHECKING, Any

from reelops_serving.schemas import ErrorResponse

if TYPE_CHECKING:
    from pydantic import BaseModel

__all__ = ["REF", "Endpoint", "build_openapi"]

REF = "#/components/schemas/{model}"

#: Statuses every authenticated endpoint may answer, and why.
_COMMON_ERRORS: dict[int, str] = {
    400: "The body is not valid JSON or a field is invalid (named in `error`).",
    401: "Missing or invalid bearer token (when tokens are configured).",
    413: "The body is larger than the endpoint's limit.",
    415: "The body is not sent as `Content-Type: application/json`.",
    429: "Rate limit of the token (charged by work: one unit per request, one per "
    "user of a batch), of the address without a valid token, or the worker's "
    "concurrency limit, exceeded.",
    500: "Unexpected server error (details only in the server log).",
    503: "The service is overloaded or not ready yet.",
    504: "The request took longer than the service's timeout.",
}


@dataclass(frozen=True)
class Endpoint:
    """One POST endpoint of the API."""

    route: str
    name: str
    summary: str
    request: type[BaseModel]
    response: type[BaseModel]
    errors: dict[int, str] = field(default_factory=dict)
    description: str = ""
    headers: tuple[dict[str, Any], ...] = ()


def _schema(model: type[BaseModel], mode: str, defs: dict[str, Any]) -> dict[str, Any]:
    schema = model.model_json_schema(ref_template=REF, mode=mode)  # type: ignore[arg-type]
    defs.update(schema.pop("$defs", {}))
    name = schema.get("title", model.__name__)
    defs[name] = schema
    return {"$ref": REF.format(model=name)}


def _error(description: str, ref: dict[str, Any]) -> dict[str, Any]:
    return {
        "description": description,
        "content": {"application/json": {"schema": ref}},
    }


def _infra(
    description: str, *, text: bool, unavailable: bool = False
) -> dict[str, Any]:
    ok: dict[str, Any] = {"description": "OK"}
    if text:
        ok["content"] = {"text/plain": {"schema": {"type": "string"}}}
    responses: dict[str, Any] = {"200": ok}
    if unavailable:
        responses["503"] = _error(
            "Not ready (model not loaded yet).",
            {"$ref": REF.format(model="ErrorResponse")},
        )
    return {
        "get": {
            "tags": ["Infrastructure"],
            "summary": description,
            "security": [],
            "responses": responses,
        }
    }


def build_openapi(
    *,
    title: str,
    version: str,
    description: str,
    endpoints: list[Endpoint],
) -> dict[str, Any]:
    """The OpenAPI 3.1 document of the service (a JSON-ready dict)."""
    defs: dict[str, Any] = {}
    error_ref = _schema(ErrorResponse, "serialization", defs)
    paths: dict[str, Any] = {
        "/healthz": _infra("Liveness (alias of /livez).", text=True),
        "/livez": _infra("Liveness: the worker answers.", text=True),
        "/readyz": _infra(
            "Readiness: the model is loaded and the service takes traffic.",
            text=True,
            unavailable=True,
        ),
        "/metrics": _infra("Prometheus metrics (text exposition format).", text=True),
    }
    for ep in endpoints:
        statuses = {**_COMMON_ERRORS, **ep.errors}
        responses: dict[str, Any] = {
            "200": {
                "description": "OK",
                "content": {
                    "application/json": {
                        "schema": _schema(ep.response, "serialization", defs)
                    }
                },
            }
        }
        for status in sorted(statuses):
            phrase = HTTPStatus(status).phrase
            responses[str(status)] = _error(f"{phrase}: {statuses[status]}", error_ref)
        operation: dict[str, Any] = {
            "operationId": ep.name,
            "tags": ["Recommendations"],
            "summary": ep.summary,
            "description": ep.description,
        }
        if ep.headers:
            operation["parameters"] = [dict(h) for h in ep.headers]
        paths[ep.route] = {
            "post": {
                **operation,
                "requestBody": {
                    "required": True,
                    "content": {
                        "application/json": {
                            "schema": _schema(ep.request, "validation", defs)
                        }
                    },
                },
                "responses": responses,
            }
        }
    return {
        "openapi": "3.1.0",
        "info": {"title": title, "version": version, "description": description},
        "servers": [{"url": "/"}],
        "tags": [
            {"name": "Recommendations", "description": "The recommendation API."},
            {"name": "Infrastructure", "description": "Probes and metrics."},
        ],
        "security": [{"bearerAuth": []}],
        "paths": paths,
        "components": {
            "schemas": dict(sorted(defs.items())),
            "securitySchemes": {
                "bearerAuth": {
                    "type": "http",
                    "scheme": "bearer",
                    "description": "An API token (REELOPS_API_TOKENS or the "
                    "mounted token file). Not required when no token is "
                    "configured (local development).",
                }
            },
        },
    }
