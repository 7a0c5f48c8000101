"""The ``argo.yml`` configuration model.

The file lives in ``conf/<env>/argo.yml`` (``conf/base/argo.yml`` holds what the
environments share) and is read through the project's own config loader. Every
model rejects unknown keys, and :func:`parse_config` turns pydantic's multi-line
report into one line that names each bad key.
"""

from __future__ import annotations

import posixpath
import re
from pathlib import PurePosixPath
from typing import TYPE_CHECKING, Any, Literal

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)

from kedro_hera._names import is_dns_label
from kedro_hera._quantity import check_memory, parse_cpu, parse_memory
from kedro_hera.errors import ConfigError
from kedro_hera.security import EmptyDirConfig, SecurityContextConfig

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = [
    "ArgoConfig",
    "CheckMetricConfig",
    "ExitHandlerConfig",
    "FollowUpConfig",
    "GroupConfig",
    "GroupingConfig",
    "ImageConfig",
    "MlflowConfig",
    "PodGCConfig",
    "Quantities",
    "ResourcesConfig",
    "RetryConfig",
    "ScheduleConfig",
    "SecretEnvVar",
    "ServerConfig",
    "TTLConfig",
    "TolerationConfig",
    "parse_config",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _quantity_text(value: Any) -> Any:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float):
        return str(value)
    return value


class Quantities(_Model):
    """CPU and memory quantities, e.g. ``{cpu: 500m, memory: 1Gi}``."""

    cpu: str | None = Field(default=None, description="CPU, e.g. '500m' or '2'.")
    memory: str | None = Field(default=None, description="Memory, e.g. '512Mi'.")

    @field_validator("cpu", mode="before")
    @classmethod
    def _cpu_text(cls, value: Any) -> Any:
        return _quantity_text(value)

    @field_validator("memory", mode="before")
    @classmethod
    def _memory_text(cls, value: Any) -> Any:
        return _quantity_text(value)

    @field_validator("cpu")
    @classmethod
    def _check_cpu(cls, value: str | None) -> str | None:
        if value is not None and parse_cpu(value) is None:
            msg = (
                f"'{value}' is not a Kubernetes CPU quantity "
                "(expected e.g. '500m' or '2')"
            )
            raise ValueError(msg)
        return value

    @field_validator("memory")
    @classmethod
    def _check_memory(cls, value: str | None) -> str | None:
        return check_memory(value)


class ResourcesConfig(_Model):
    """Container requests and limits."""

    requests: Quantities = Quantities()
    limits: Quantities = Quantities()

    @model_validator(mode="after")
    def _limits_not_below_requests(self) -> ResourcesConfig:
        problem = resources_problem(self)
        if problem is not None:
            raise ValueError(problem)
        return self


def resources_problem(resources: ResourcesConfig) -> str | None:
    """Tell whether a limit is below its request.

    Args:
        resources: Requests and limits to compare.

    Returns:
        A one-line description of the first problem, or None.
    """
    pairs = (
        ("cpu", parse_cpu, resources.requests.cpu, resources.limits.cpu),
        ("memory", parse_memory, resources.requests.memory, resources.limits.memory),
    )
    for name, parse, request, limit in pairs:
        if request is None or limit is None:
            continue
        request_value, limit_value = parse(request), parse(limit)
        if request_value is None or limit_value is None:
            continue
        if limit_value < request_value:
            return (
                f"limits.{name} '{limit}' is below requests.{name} '{request}' "
                "(a limit must be at least its request)"
            )
    return None


class TolerationConfig(_Model):
    """A Kubernetes toleration."""

    key: str | None = None
    operator: Literal["Equal", "Exists"] = "Equal"
    value: str | None = None
    effect: Literal["NoSchedule", "PreferNoSchedule", "NoExecute"] | None = None
    toleration_seconds: int | None = None


class GroupConfig(_Model):
    """Overrides for the tasks holding a tag or a namespace.

    A task matches the group named ``K`` when its group is ``K`` or when one of its
    nodes has the tag ``K`` or lives in the namespace ``K`` (or below it). When
    several groups match a task, each resource is the largest one asked for.
    """

    resources: ResourcesConfig | None = None
    node_selector: dict[str, str] = {}
    tolerations: list[TolerationConfig] = []


class GroupingConfig(_Model):
    """How Kedro nodes are grouped into Argo tasks."""

    by_namespace: bool = Field(
        default=True,
        description="Group nodes by top-level namespace (Pipeline.group_nodes_by).",
    )
    group_by_tags: list[str] = Field(
        default=[], description="Nodes holding one of these tags form one task."
    )
    tag_prefix: str | None = Field(
        default=None,
        description="A tag '<prefix><name>' puts the node in the task '<name>'.",
    )

    @field_validator("tag_prefix")
    @classmethod
    def _prefix_not_empty(cls, value: str | None) -> str | None:
        if value is not None and not value:
            msg = "must not be empty (omit it to disable prefix grouping)"
            raise ValueError(msg)
        return value


class ImageConfig(_Model):
    """The container image every task runs.

    The tag is, in this order: ``$KEDRO_HERA_IMAGE_TAG``, ``tag``, the content
    hash of the files below ``tag_from`` (see :mod:`kedro_hera.image`), the git SHA.
    """

    repository: str
    tag: str | None = Field(default=None, description="A pinned tag.")
    tag_from: list[str] | None = Field(
        default=None,
        min_length=1,
        description="Project paths (files or directories) whose content hash is "
        "the tag: whatever goes into the image.",
    )
    pull_policy: Literal["Always", "IfNotPresent", "Never"] = "IfNotPresent"
    pull_secrets: list[str] = []

    @field_validator("tag_from")
    @classmethod
    def _relative_paths(cls, value: list[str] | None) -> list[str] | None:
        if value is None:
            return None
        for path in value:
            parts = PurePosixPath(path).parts
            normalized = posixpath.normpath(path) == path and "\\" not in path
            if path.startswith("/") or ".." in parts or path == "." or not normalized:
                msg = (
                    f"'{path}' is not a normalized relative POSIX path inside the "
                    "project (expected e.g. 'src' or 'conf/base')"
                )
                raise ValueError(msg)
        return _unique(value, "paths must be unique")


class RetryConfig(_Model):
    """Retries of infrastructure failures (never OOM kills nor application errors)."""

    limit: int = Field(default=2, ge=0)
    backoff_duration: str = "30s"
    backoff_factor: int = Field(default=2, ge=1)
    backoff_max_duration: str = "10m"


class TTLConfig(_Model):
    """How long finished workflows are kept (Argo ``ttlStrategy``)."""

    seconds_after_completion: int | None = Field(default=None, ge=0)
    seconds_after_success: int | None = Field(default=None, ge=0)
    seconds_after_failure: int | None = Field(default=None, ge=0)


class PodGCConfig(_Model):
    """When pods are deleted (Argo ``podGC``)."""

    strategy: Literal[
        "OnPodCompletion", "OnPodSuccess", "OnWorkflowCompletion", "OnWorkflowSuccess"
    ] = "OnPodSuccess"
    delete_delay_duration: str | None = None


_WHEN_VALUE = r"^[A-Za-z0-9_.-]+$"


def _as_list(value: Any) -> Any:
    """One string as a list of it (a setting that takes one value or several)."""
    return [value] if isinstance(value, str) else value


def _check_outputs(value: list[str]) -> list[str]:
    """Outputs of a check: unique words Argo can compare without quoting."""
    bad = [v for v in value if not re.fullmatch(_WHEN_VALUE, v)]
    if bad:
        msg = f"must be letters, digits, '_', '.', '-', got {bad}"
        raise ValueError(msg)
    return _unique(value, "must be unique")


def _unique(value: list[str], what: str) -> list[str]:
    """``value`` unchanged, or ``ValueError("<what>, got [...] more than once")``."""
    duplicates = sorted({v for v in value if value.count(v) > 1})
    if duplicates:
        msg = f"{what}, got {duplicates} more than once"
        raise ValueError(msg)
    return value


_METRIC_NAME = r"^[a-zA-Z_][a-zA-Z0-9_]*$"


class CheckMetricConfig(_Model):
    """Prometheus metrics of a schedule's check, emitted by Argo's controller.

    After each run of the check, Argo sets the gauge ``argo_workflows_<name>``
    with labels ``result`` (each value of ``results``), ``schedule`` and
    ``namespace`` to 1 for the value the check printed and to 0 for the
    others, and adds 1 to ``argo_workflows_<name>_runs_total`` with label
    ``status`` (``Succeeded``, ``Failed``, ``Error``).
    """

    name: str = Field(
        pattern=_METRIC_NAME,
        description="Gauge name (Argo prefixes argo_workflows_).",
    )
    help: str = Field(min_length=1, description="The gauge's help text.")
    results: list[str] = Field(
        min_length=1,
        description="Every output the check prints: one labelled gauge each.",
    )

    @field_validator("results")
    @classmethod
    def _results_are_when_values(cls, value: list[str]) -> list[str]:
        return _check_outputs(value)


class FollowUpConfig(_Model):
    """A pipeline a schedule submits after its own, when a check says so.

    Once the scheduled pipeline's workflow has succeeded, ``check`` runs in the
    project image (with ``KEDRO_ENV`` set to the compiled env); when its standard
    output is exactly ``when`` (or one of its values, given a list), the
    WorkflowTemplate of ``submit`` is submitted with ``params`` as overrides.
    """

    submit: str = Field(description="Pipeline whose WorkflowTemplate is submitted.")
    check: list[str] = Field(
        min_length=1,
        description="Command whose standard output decides (e.g. prints true/false).",
    )
    when: list[str] = Field(
        default=["true"],
        min_length=1,
        description="Submit when the check prints exactly this, or one of these "
        "(letters, digits, '_', '.', '-').",
    )
    params: dict[str, Any] = Field(
        default={}, description="Parameter overrides of the submitted workflow."
    )
    wait: bool = Field(
        default=False,
        description="Wait for the submitted workflow; the cron's workflow then "
        "fails when it fails.",
    )
    resources: ResourcesConfig = ResourcesConfig(
        requests=Quantities(cpu="100m", memory="256Mi"),
        limits=Quantities(memory="1Gi"),
    )
    metric: CheckMetricConfig | None = Field(
        default=None,
        description="Prometheus gauge of the check's output (for alerts).",
    )

    _when_as_list = field_validator("when", mode="before")(_as_list)

    @field_validator("when")
    @classmethod
    def _when_values(cls, value: list[str]) -> list[str]:
        return _check_outputs(value)

    @model_validator(mode="after")
    def _when_is_a_metric_result(self) -> FollowUpConfig:
        missing = [v for v in self.when if self.metric and v not in self.metric.results]
        if self.metric is not None and missing:
            msg = (
                f"metric.results must include every value of when, missing "
                f"{missing}, got {self.metric.results}"
            )
            raise ValueError(msg)
        return self


class ScheduleConfig(_Model):
    """A CronWorkflow that runs a compiled WorkflowTemplate.

    Without ``then`` the CronWorkflow references the template directly; with it,
    the CronWorkflow's workflow creates the template's workflow, waits for it,
    runs the check and submits the follow-up pipeline when the check says so.
    """

    name: str
    pipeline: str
    cron: list[str] = Field(min_length=1)
    timezone: str = "UTC"
    params: dict[str, Any] = {}
    concurrency_policy: Literal["Allow", "Forbid", "Replace"] = "Forbid"
    suspend: bool = False
    starting_deadline_seconds: int | None = Field(default=None, ge=0)
    successful_jobs_history_limit: int | None = Field(default=None, ge=0)
    failed_jobs_history_limit: int | None = Field(default=None, ge=0)
    then: FollowUpConfig | None = None

    _cron_as_list = field_validator("cron", mode="before")(_as_list)

    @field_validator("name")
    @classmethod
    def _name_is_dns(cls, value: str) -> str:
        if not is_dns_label(value):
            msg = f"'{value}' is not a DNS-1123 label (lower-case letters, digits, '-')"
            raise ValueError(msg)
        return value


class MlflowConfig(_Model):
    """One MLflow run shared by every task of a workflow."""

    enabled: bool = True
    experiment_name: str | None = Field(
        default=None,
        description="Defaults to tracking.experiment.name of mlflow.yml, else Default.",
    )
    tracking_uri: str | None = Field(
        default=None, description="Exported as MLFLOW_TRACKING_URI to every task."
    )
    init_command: list[str] | None = Field(
        default=None,
        description="Replaces `kedro argo init-run`; must write the run id to "
        "/tmp/kedro-hera/mlflow-run-id.",
    )
    resources: ResourcesConfig = ResourcesConfig(
        requests=Quantities(cpu="100m", memory="256Mi"),
        limits=Quantities(memory="512Mi"),
    )


class ExitHandlerConfig(_Model):
    """The onExit step recording the workflow's outcome."""

    enabled: bool = True
    command: list[str] | None = Field(
        default=None,
        description="Replaces `kedro argo end-run` (the default when MLflow is on).",
    )


class ServerConfig(_Model):
    """Where `kedro argo submit` finds the Argo server (token only from env vars)."""

    host: str | None = None
    verify_ssl: bool = True


class SecretEnvVar(_Model):
    """An environment variable read from a Kubernetes secret."""

    secret: str
    key: str
    optional: bool = Field(
        default=False,
        description="Start the pod (variable unset) when the secret or key is absent.",
    )


class ArgoConfig(_Model):
    """The whole ``argo.yml`` of one Kedro environment."""

    image: ImageConfig
    namespace: str
    service_account: str | None = None
    name_prefix: str | None = Field(
        default=None, description="Prefix of template names; defaults to the package."
    )
    pipelines: list[str] | None = Field(
        default=None, description="Pipelines to compile; defaults to all registered."
    )
    kedro_command: list[str] = Field(default=["kedro"], min_length=1)
    working_dir: str | None = None
    data_root: str | None = Field(
        default=None,
        description="Remote root (e.g. s3://bucket/prefix) of the env's catalog: "
        "every dataset crossing tasks must live below it.",
    )
    env_vars: dict[str, str] = {}
    secret_env_vars: dict[str, SecretEnvVar] = {}
    resources: ResourcesConfig = ResourcesConfig(
        requests=Quantities(cpu="500m", memory="1Gi"),
        limits=Quantities(memory="2Gi"),
    )
    groups: dict[str, GroupConfig] = {}
    grouping: GroupingConfig = GroupingConfig()
    retry: RetryConfig = RetryConfig()
    ttl: TTLConfig = TTLConfig(seconds_after_completion=7 * 24 * 3600)
    pod_gc: PodGCConfig = PodGCConfig()
    node_selector: dict[str, str] = {}
    tolerations: list[TolerationConfig] = []
    security_context: SecurityContextConfig = SecurityContextConfig()
    empty_dirs: list[EmptyDirConfig] = []
    active_deadline_seconds: int | None = Field(default=None, gt=0)
    parallelism: int | None = Field(default=None, gt=0)
    schedules: list[ScheduleConfig] = []
    mlflow: MlflowConfig = MlflowConfig()
    exit_handler: ExitHandlerConfig = ExitHandlerConfig()
    server: ServerConfig = ServerConfig()

    @field_validator("namespace")
    @classmethod
    def _namespace_is_dns(cls, value: str) -> str:
        if not is_dns_label(value):
            msg = f"'{value}' is not a DNS-1123 label (lower-case letters, digits, '-')"
            raise ValueError(msg)
        return value

    @model_validator(mode="after")
    def _unique_schedule_names(self) -> ArgoConfig:
        names = [schedule.name for schedule in self.schedules]
        duplicates = sorted({name for name in names if names.count(name) > 1})
        if duplicates:
            msg = f"schedule names must be unique, got {duplicates} more than once"
            raise ValueError(msg)
        return self

    @model_validator(mode="after")
    def _unique_empty_dirs(self) -> ArgoConfig:
        for what in ("name", "mount_path"):
            values = [getattr(d, what) for d in self.empty_dirs]
            duplicates = sorted({v for v in values if values.count(v) > 1})
            if duplicates:
                msg = (
                    f"empty_dirs: each {what} must be unique, got {duplicates} "
                    "more than once"
                )
                raise ValueError(msg)
        return self


def _location(loc: tuple[str | int, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            parts.append(("." if parts else "") + item)
    return "".join(parts) or "<root>"


def _known_fields(loc: tuple[str | int, ...]) -> list[str] | None:
    """Return the field names of the model found at ``loc`` (parent of a bad key)."""
    model: Any = ArgoConfig
    for item in loc:
        if isinstance(item, int):
            continue
        fields = getattr(model, "model_fields", None)
        if fields is None or item not in fields:
            return None
        annotation = fields[item].annotation
        model = _model_in(annotation)
        if model is None:
            return None
    fields = getattr(model, "model_fields", None)
    return sorted(fields) if fields is not None else None


def _model_in(annotation: Any) -> type[BaseModel] | None:
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return annotation
    for arg in getattr(annotation, "__args__", ()):
        found = _model_in(arg)
        if found is not None:
            return found
    return None


def _one_line(error: Mapping[str, Any]) -> str:
    loc = tuple(error["loc"])
    where = _location(loc)
    if error["type"] == "extra_forbidden":
        known = _known_fields(loc[:-1])
        hint = f" (expected one of: {', '.join(known)})" if known else ""
        return f"{where}: unknown key{hint}"
    if error["type"] == "missing":
        return f"{where}: required key is missing"
    message = str(error["msg"])
    if error["type"] == "value_error":
        return f"{where}: {message.removeprefix('Value error, ')}"
    return f"{where}: {message}, got {error.get('input')!r}"


def parse_config(raw: Mapping[str, Any], *, source: str) -> ArgoConfig:
    """Validate a raw ``argo.yml`` mapping.

    Args:
        raw: The mapping loaded by the config loader.
        source: What error messages call the config, e.g. ``argo.yml (env 'prod')``.

    Returns:
        The validated configuration.

    Raises:
        ConfigError: With one line naming every bad key.
    """
    try:
        return ArgoConfig.model_validate(dict(raw))
    except ValidationError as exc:
        problems = "; ".join(_one_line(error) for error in exc.errors())
        raise ConfigError(f"{source}: {problems}") from exc
