"""Serving configuration: one YAML file, environment overrides, mounted secrets.

Where values come from, the last one winning:

1. the defaults below (documented in ``conf/base/serving.yml``, the commented
   template);
2. the YAML file named by ``REELOPS_SERVING_CONFIG`` (a ConfigMap in Kubernetes);
3. environment variables: ``REELOPS_ENV``, ``REELOPS_MODEL_TAG``,
   ``REELOPS_API_TOKENS`` (comma-separated), ``REELOPS_API_TOKENS_FILE`` (one token
   per line, e.g. a mounted Secret), ``REELOPS_FEEDBACK_DB_URL``,
   ``REELOPS_PROFILE_PATH`` and ``REELOPS_METRICS_PORT``.

``staging`` and ``prod`` refuse to start without API tokens, with a SQLite
feedback database, with a local profile directory or with ``/metrics`` on the API
port.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    model_validator,
)

from reelops_serving.errors import ServingConfigError

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "DEFAULT_MODEL_TAG",
    "ENV_VARS",
    "AuthSettings",
    "FeedbackSettings",
    "LimitsSettings",
    "MetricsSettings",
    "ProfilingSettings",
    "RateLimitSettings",
    "ServingSettings",
    "TopNSettings",
    "load_settings",
    "resolve_model_tag",
]

#: The model served when nothing else says which: the newest packaged version.
DEFAULT_MODEL_TAG = "reelops-recommender:latest"

#: Environment variables read by :func:`load_settings`, and what they set.
ENV_VARS: dict[str, str] = {
    "REELOPS_SERVING_CONFIG": "path of the YAML configuration file",
    "REELOPS_ENV": "environment",
    "REELOPS_MODEL_TAG": "model_tag",
    "REELOPS_API_TOKENS": "auth.tokens (comma-separated)",
    "REELOPS_API_TOKENS_FILE": "auth.tokens_file",
    "REELOPS_FEEDBACK_DB_URL": "feedback.url",
    "REELOPS_PROFILE_PATH": "profiling.path",
    "REELOPS_METRICS_PORT": "metrics.port",
}

_STRICT_ENVIRONMENTS = ("staging", "prod")


class _Settings(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class AuthSettings(_Settings):
    """Bearer tokens: every endpoint but health and metrics needs one when set."""

    tokens: list[SecretStr] = Field(
        default_factory=list, description="Accepted bearer tokens."
    )
    tokens_file: Path | None = Field(
        default=None, description="File with one token per line (a mounted Secret)."
    )

    def all_tokens(self, *, missing_ok: bool = False) -> list[str]:
        """The configured tokens plus those of ``tokens_file`` (read now).

        Args:
            missing_ok: Treat a missing ``tokens_file`` as holding no token (an
                optional Secret in dev) instead of failing.

        Raises:
            ServingConfigError: ``tokens_file`` cannot be read.
        """
        tokens = [t.get_secret_value().strip() for t in self.tokens]
        if self.tokens_file is not None:
            try:
                text = self.tokens_file.read_text(encoding="utf-8")
            except FileNotFoundError:
                if not missing_ok:
                    raise ServingConfigError(
                        f"auth.tokens_file: '{self.tokens_file}' does not exist"
                    ) from None
                text = ""
            except OSError as exc:
                raise ServingConfigError(
                    f"auth.tokens_file: cannot read '{self.tokens_file}' "
                    f"({exc.strerror or exc})"
                ) from exc
            tokens.extend(
                line.strip()
                for line in text.splitlines()
                if line.strip() and not line.lstrip().startswith("#")
            )
        return [t for t in tokens if t]


class RateLimitSettings(_Settings):
    """Token buckets charged by work: per API token, and per address without one.

    A request costs one unit, a batch one unit per user. Callers without a valid
    token (every caller when auth is off) are limited per client address:
    ``requests_per_second`` and ``burst`` when auth is off, the ``unauthenticated_*``
    rate when tokens are configured and the token is missing or wrong.
    """

    enabled: bool = True
    requests_per_second: float = Field(
        default=200.0, gt=0, description="Units of work per second per token."
    )
    burst: int = Field(default=400, ge=1, description="Bucket size, in units.")
    unauthenticated_per_second: float = Field(
        default=5.0,
        gt=0,
        description="Requests per second per address without a valid token.",
    )
    unauthenticated_burst: int = Field(default=20, ge=1)


class LimitsSettings(_Settings):
    """Request bodies larger than these are refused (413) before being read."""

    max_body_bytes: int = Field(
        default=64 * 1024, ge=1024, description="Every endpoint but batches."
    )
    max_batch_body_bytes: int = Field(
        default=1024 * 1024, ge=1024, description="POST /recommend_batch."
    )


class MetricsSettings(_Settings):
    """Where Prometheus scrapes ``/metrics``."""

    port: int | None = Field(
        default=None,
        ge=1,
        le=65535,
        description="Serve /metrics on this port only (none: on the API port).",
    )
    host: str = Field(
        default="0.0.0.0",  # noqa: S104 - a pod's port, reachable as its policy says
        min_length=1,
        description="Address the metrics port binds.",
    )


class FeedbackSettings(_Settings):
    """Where ``/feedback`` stores ratings, and how ``/recommend`` reads them back.

    Each worker keeps the movies each user rated through ``/feedback`` in memory
    (:mod:`reelops_serving.exclusions`): a worker sees its own writes at once; on
    SQLite, any commit empties the cache (exact); on PostgreSQL, a rating stored
    through another worker or pod may be recommended for up to
    ``exclusion_cache_seconds``.
    """

    url: SecretStr = Field(
        default=SecretStr("sqlite:///data/01_raw/feedback.db"),
        description="SQLAlchemy URL; PostgreSQL in staging and prod.",
    )
    exclusion_cache_seconds: float = Field(
        default=1.0,
        ge=0,
        le=3600,
        description=(
            "How old the cached rated movies may be where the database cannot "
            "tell of other connections' commits (PostgreSQL); 0: no cache."
        ),
    )
    exclusion_cache_max_users: int = Field(
        default=100_000, ge=1, description="Users each worker's cache holds at most."
    )


class ProfilingSettings(_Settings):
    """Request profiles, flushed off the request path as mergeable files."""

    enabled: bool = True
    path: str = Field(
        default="data/07_model_output/request_profiles",
        description="Directory or fsspec URL (s3://...) the profiles are written to.",
    )
    flush_interval_seconds: float = Field(default=60.0, gt=0)
    flush_max_rows: int = Field(default=10_000, ge=1)
    max_buffer_rows: int = Field(default=200_000, ge=1)
    offload: bool = Field(
        default=True,
        description="Profile in a child process (profiling holds the GIL).",
    )


class TopNSettings(_Settings):
    """Each known user's best movies, precomputed when the model loads.

    ``/recommend`` then filters the user's list (genres, movies rated through
    ``/feedback``) instead of asking the model, and asks it when fewer than ``k``
    movies pass: the answers are the model's either way.
    """

    size: int = Field(
        default=200,
        ge=0,
        le=10_000,
        description="Movies precomputed per user (0: off; the model answers).",
    )
    max_users: int = Field(
        default=50_000,
        ge=0,
        description="Precompute only for models with at most this many users.",
    )


class ServingSettings(_Settings):
    """Everything the recommendation service reads at start-up."""

    environment: Literal["local", "dev", "staging", "prod"] = "local"
    model_tag: str = Field(default=DEFAULT_MODEL_TAG, min_length=1)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    rate_limit: RateLimitSettings = Field(default_factory=RateLimitSettings)
    limits: LimitsSettings = Field(default_factory=LimitsSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    feedback: FeedbackSettings = Field(default_factory=FeedbackSettings)
    profiling: ProfilingSettings = Field(default_factory=ProfilingSettings)
    top_n: TopNSettings = Field(default_factory=TopNSettings)

    @model_validator(mode="after")
    def _strict_environments(self) -> ServingSettings:
        if self.environment not in _STRICT_ENVIRONMENTS:
            return self
        env = self.environment
        if not self.auth.tokens and self.auth.tokens_file is None:
            raise ValueError(
                f"{env} refuses to start without API tokens: set "
                "REELOPS_API_TOKENS_FILE (a mounted Secret) or REELOPS_API_TOKENS"
            )
        if self.feedback.url.get_secret_value().startswith("sqlite"):
            raise ValueError(
                f"{env} needs a PostgreSQL feedback database: set "
                "REELOPS_FEEDBACK_DB_URL, got a SQLite URL"
            )
        if self.profiling.enabled and "://" not in self.profiling.path:
            raise ValueError(
                f"{env} writes request profiles to remote storage: expected a URL "
                f"such as s3://bucket/profiles, got '{self.profiling.path}'"
            )
        if self.metrics.port is None:
            raise ValueError(
                f"{env} serves /metrics away from the API port: set metrics.port "
                "(or REELOPS_METRICS_PORT), got none"
            )
        return self

    def api_tokens(self) -> list[str]:
        """Every accepted token; staging and prod refuse to start with none.

        Outside staging and prod a missing token file means no token (the API is
        open), so a dev pod runs without the Secret.

        Raises:
            ServingConfigError: The token file is unreadable, or a strict
                environment ends up with no token at all.
        """
        strict = self.environment in _STRICT_ENVIRONMENTS
        tokens = self.auth.all_tokens(missing_ok=not strict)
        if not tokens and strict:
            raise ServingConfigError(
                f"{self.environment} refuses to start without API tokens: "
                f"'{self.auth.tokens_file}' holds none"
            )
        return tokens


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise ServingConfigError(
            f"REELOPS_SERVING_CONFIG: cannot read '{path}' ({exc.strerror or exc})"
        ) from exc
    except yaml.YAMLError as exc:
        first = str(exc).splitlines()[0]
        raise ServingConfigError(f"{path}: invalid YAML ({first})") from exc
    if data is None:
        return {}
    if not isinstance(data, dict):
        raise ServingConfigError(
            f"{path}: expected a mapping at the top level, got {type(data).__name__}"
        )
    return data


def _set(data: dict[str, Any], dotted: str, value: Any) -> None:
    *parents, leaf = dotted.split(".")
    node = data
    for key in parents:
        child = node.setdefault(key, {})
        if not isinstance(child, dict):
            raise ServingConfigError(
                f"key '{key}': expected a mapping, got {type(child).__name__}"
            )
        node = child
    node[leaf] = value


def _format(exc: ValidationError, where: str) -> str:
    err = exc.errors()[0]
    key = ".".join(str(p) for p in err["loc"]) or "<root>"
    if err["type"] == "extra_forbidden":
        return f"{where}: unknown key '{key}'"
    if err["type"] == "missing":
        return f"{where}: missing required key '{key}'"
    if err["type"] == "value_error":
        return f"{where}: {err['msg'].removeprefix('Value error, ')}"
    return f"{where}: key '{key}': {err['msg']}, got {err.get('input')!r}"


def load_settings(
    environ: Mapping[str, str] | None = None,
    *,
    default_model_tag: str = DEFAULT_MODEL_TAG,
) -> ServingSettings:
    """Read the serving configuration (file, then environment overrides).

    Args:
        environ: The environment to read (``os.environ`` by default).
        default_model_tag: The model served when neither the file nor
            ``REELOPS_MODEL_TAG`` names one (a bento passes the tag it packs).

    Returns:
        The validated settings.

    Raises:
        ServingConfigError: The file is unreadable, a key is unknown or a value is
            invalid, or a strict environment lacks tokens or remote storage.
    """
    env = os.environ if environ is None else environ
    data: dict[str, Any] = {"model_tag": default_model_tag}
    where = "serving settings"
    if path := env.get("REELOPS_SERVING_CONFIG"):
        where = path
        data.update(_read_yaml(Path(path)))
    overrides = {
        "REELOPS_ENV": "environment",
        "REELOPS_MODEL_TAG": "model_tag",
        "REELOPS_API_TOKENS_FILE": "auth.tokens_file",
        "REELOPS_FEEDBACK_DB_URL": "feedback.url",
        "REELOPS_PROFILE_PATH": "profiling.path",
        "REELOPS_METRICS_PORT": "metrics.port",
    }
    for var, dotted in overrides.items():
        if value := env.get(var, "").strip():
            _set(data, dotted, value)
    if tokens := env.get("REELOPS_API_TOKENS", "").strip():
        _set(data, "auth.tokens", [t for t in tokens.split(",") if t.strip()])
    try:
        return ServingSettings.model_validate(data)
    except ValidationError as exc:
        raise ServingConfigError(_format(exc, where)) from exc


def resolve_model_tag(
    environ: Mapping[str, str] | None = None,
    *,
    default_model_tag: str = DEFAULT_MODEL_TAG,
) -> str:
    """The model tag alone (``REELOPS_MODEL_TAG``, else the file, else the default).

    Used where the full settings must not be validated yet (class definition of the
    service, which a bento build imports without any runtime secret).
    """
    env = os.environ if environ is None else environ
    if tag := env.get("REELOPS_MODEL_TAG", "").strip():
        return tag
    if path := env.get("REELOPS_SERVING_CONFIG"):
        value = _read_yaml(Path(path)).get("model_tag")
        if isinstance(value, str) and value.strip():
            return value.strip()
    return default_model_tag
