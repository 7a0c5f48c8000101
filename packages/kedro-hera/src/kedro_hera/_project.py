"""Read what compilation needs from a Kedro project, without running anything.

The config loader is the project's own (``settings.CONFIG_LOADER_CLASS`` with
``settings.CONFIG_LOADER_ARGS``, built the way ``KedroSession`` builds it) with an
``argo`` pattern added, as kedro-mlflow does for ``mlflow``. No session is created
and no context hook runs, so compiling has no side effect (no MLflow experiment is
created, no credentials are read). The catalog is never instantiated either: its
configuration is resolved through Kedro's ``CatalogConfigResolver``, which applies
dataset factory patterns.
"""

from __future__ import annotations

import copy
import logging
import os
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kedro_hera._comments import yaml_key_comments
from kedro_hera.config import ArgoConfig, parse_config
from kedro_hera.errors import ConfigError, ProjectError
from kedro_hera.image import GIT_SHA_TAG, ImageTag, content_tag, resolve_image_tag

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from pathlib import Path

    from kedro.pipeline import Pipeline

__all__ = [
    "ARGO_CONFIG_PATTERNS",
    "CatalogView",
    "EnvSnapshot",
    "ProjectSnapshot",
    "discover_envs",
    "git_sha",
    "load_env",
    "load_project",
]

logger = logging.getLogger(__name__)

ARGO_CONFIG_PATTERNS = ["argo*", "argo*/**", "**/argo*"]
_MLFLOW_CONFIG_PATTERNS = ["mlflow*", "mlflow*/**", "**/mlflow*"]
_YAML_SUFFIXES = {".yml", ".yaml", ".json"}
_MEMORY_TYPES = {"MemoryDataset", "SharedMemoryDataset"}
_DEFAULT_RUNTIME_PATTERN = {"{default}": {"type": "kedro.io.MemoryDataset"}}
GIT_SHA_ENV_VAR = "KEDRO_HERA_GIT_SHA"


@dataclass(frozen=True)
class ProjectSnapshot:
    """The parts of a Kedro project that do not depend on the environment.

    Attributes:
        path: Project root.
        package_name: The project's Python package.
        conf_source: Configuration root (``conf/``).
        base_env: Name of the base environment.
        pipelines: Registered pipelines by name.
    """

    path: Path
    package_name: str
    conf_source: Path
    base_env: str
    pipelines: Mapping[str, Pipeline]


def _quiet(record: logging.LogRecord) -> bool:
    """Drop records below ERROR (a logging filter)."""
    return record.levelno > logging.WARNING


def _strip_credentials(config: Any) -> Any:
    if isinstance(config, Mapping):
        return {
            k: _strip_credentials(v) for k, v in config.items() if k != "credentials"
        }
    return config


class CatalogView:
    """Read-only view of an env's catalog configuration, patterns resolved.

    Args:
        catalog_config: The ``catalog`` config of the env (credentials are ignored).
    """

    def __init__(self, catalog_config: Mapping[str, Any]) -> None:
        from kedro.io.catalog_config_resolver import CatalogConfigResolver

        entries = {
            name: _strip_credentials(value)
            for name, value in catalog_config.items()
            if not str(name).startswith("_")
        }
        self._resolver = CatalogConfigResolver(
            config=copy.deepcopy(entries),
            default_runtime_patterns=_DEFAULT_RUNTIME_PATTERN,
        )

    def dataset_config(self, name: str) -> dict[str, Any] | None:
        """Return the configuration of a dataset after resolving factory patterns.

        Args:
            name: Dataset name.

        Returns:
            The configuration, or None when the dataset is declared nowhere (Kedro
            would then create a ``MemoryDataset``).
        """
        resolver = self._resolver
        if name in resolver.config:
            return dict(resolver.config[name])
        pattern = resolver.match_dataset_pattern(name)
        if pattern is None and resolver.match_user_catch_all_pattern(name) is None:
            return None
        # Kedro warns when a catch-all pattern is used; that is expected here.
        resolver_logger = logging.getLogger(type(resolver).__module__)
        resolver_logger.addFilter(_quiet)
        try:
            return dict(resolver.resolve_pattern(name))
        finally:
            resolver_logger.removeFilter(_quiet)

    @staticmethod
    def is_persisted(config: Mapping[str, Any] | None) -> bool:
        """Tell whether a dataset configuration stores data outside the process.

        Args:
            config: A resolved dataset configuration, or None for undeclared.

        Returns:
            False for undeclared and memory datasets (also inside a
            ``CachedDataset``), True otherwise.
        """
        if config is None:
            return False
        dataset_type = str(config.get("type", "")).rsplit(".", 1)[-1]
        if dataset_type == "CachedDataset":
            inner = config.get("dataset")
            inner_config = {"type": inner} if isinstance(inner, str) else inner
            return CatalogView.is_persisted(inner_config)
        return dataset_type not in _MEMORY_TYPES


@dataclass(frozen=True)
class EnvSnapshot:
    """What one Kedro environment says about deploying to Argo.

    Attributes:
        env: Environment name.
        config: The validated ``argo.yml``.
        parameters: Parameters as the config loader resolved them.
        parameter_comments: YAML comments of the parameters files by dotted key.
        catalog: The env's catalog configuration.
        experiment_name: MLflow experiment of the workflow runs.
        image_tag: The image tag argo.yml resolves to (its tag is None when it
            falls back to the git SHA).
    """

    env: str
    config: ArgoConfig
    parameters: Mapping[str, Any]
    parameter_comments: Mapping[str, str]
    catalog: CatalogView
    experiment_name: str
    image_tag: ImageTag = GIT_SHA_TAG


def load_project(project_path: Path) -> ProjectSnapshot:
    """Bootstrap a Kedro project and read its pipelines.

    Args:
        project_path: Root of the Kedro project.

    Returns:
        The project snapshot.

    Raises:
        ProjectError: When the project cannot be bootstrapped or its pipelines
            cannot be loaded.
    """
    from kedro.framework.project import pipelines, settings
    from kedro.framework.startup import bootstrap_project

    path = project_path.resolve()
    try:
        metadata = bootstrap_project(path)
        registered = dict(pipelines)
    except Exception as exc:
        msg = f"cannot load the Kedro project at '{path}': {exc}".replace("\n", " ")
        raise ProjectError(msg) from exc
    loader_args = dict(settings.CONFIG_LOADER_ARGS)
    return ProjectSnapshot(
        path=path,
        package_name=metadata.package_name,
        conf_source=path / settings.CONF_SOURCE,
        base_env=str(loader_args.get("base_env") or "base"),
        pipelines=dict(sorted(registered.items())),
    )


def _config_loader(project: ProjectSnapshot, env: str) -> Any:
    from kedro.framework.project import settings

    loader = settings.CONFIG_LOADER_CLASS(
        conf_source=str(project.conf_source),
        env=env,
        runtime_params={},
        **settings.CONFIG_LOADER_ARGS,
    )
    patterns = loader.config_patterns
    patterns.setdefault("argo", list(ARGO_CONFIG_PATTERNS))
    patterns.setdefault("mlflow", list(_MLFLOW_CONFIG_PATTERNS))
    merge_strategy = getattr(loader, "merge_strategy", None)
    if isinstance(merge_strategy, dict):
        merge_strategy.setdefault("argo", "soft")
    return loader


def _has_argo_file(env_dir: Path) -> bool:
    return any(
        path.is_file() and path.suffix in _YAML_SUFFIXES
        for pattern in ARGO_CONFIG_PATTERNS
        for path in env_dir.glob(pattern)
    )


def discover_envs(project: ProjectSnapshot) -> list[str]:
    """List the environments that have an ``argo.yml`` of their own.

    ``local`` (credentials only) and the base environment are skipped, unless the
    base environment is the only one with an ``argo.yml``.

    Args:
        project: The project.

    Returns:
        Environment names, sorted.
    """
    if not project.conf_source.is_dir():
        return []
    envs = sorted(
        path.name
        for path in project.conf_source.iterdir()
        if path.is_dir()
        and path.name not in {project.base_env, "local"}
        and _has_argo_file(path)
    )
    if not envs and _has_argo_file(project.conf_source / project.base_env):
        return [project.base_env]
    return envs


def _load_key(loader: Any, key: str) -> dict[str, Any]:
    from kedro.config import MissingConfigException

    try:
        return dict(loader[key])
    except MissingConfigException:
        return {}


def _parameter_comments(
    project: ProjectSnapshot, env: str, loader: Any
) -> dict[str, str]:
    patterns = list(loader.config_patterns.get("parameters", []))
    comments: dict[str, str] = {}
    for env_name in dict.fromkeys([project.base_env, env]):
        env_dir = project.conf_source / env_name
        files = sorted(
            {
                path
                for pattern in patterns
                for path in env_dir.glob(pattern)
                if path.is_file() and path.suffix in {".yml", ".yaml"}
            }
        )
        for path in files:
            comments.update(yaml_key_comments(path.read_text(encoding="utf-8")))
    return comments


def _experiment_name(config: ArgoConfig, loader: Any) -> str:
    if config.mlflow.experiment_name:
        return config.mlflow.experiment_name
    try:
        mlflow_config = _load_key(loader, "mlflow")
    except Exception:  # a kedro-mlflow resolver may be unknown here
        logger.warning("Cannot read mlflow.yml; using the 'Default' experiment.")
        return "Default"
    tracking = mlflow_config.get("tracking") or {}
    experiment = tracking.get("experiment") or {}
    return str(experiment.get("name") or "Default")


def load_env(
    project: ProjectSnapshot,
    env: str,
    *,
    hasher: Callable[[Path, Sequence[str]], str] = content_tag,
) -> EnvSnapshot:
    """Load ``argo.yml``, parameters and catalog of one environment.

    Args:
        project: The project.
        env: Environment name.
        hasher: Computes the content tag of ``image.tag_from`` (envs sharing the
            paths may share a cache).

    Returns:
        The environment snapshot.

    Raises:
        ConfigError: When the env has no ``argo.yml``, it is invalid, or an
            ``image.tag_from`` path holds no file.
        ProjectError: When the env's configuration cannot be loaded.
    """
    if not (project.conf_source / env).is_dir():
        known = sorted(p.name for p in project.conf_source.iterdir() if p.is_dir())
        msg = (
            f"environment '{env}' does not exist in {project.conf_source}; "
            f"expected one of {known}"
        )
        raise ConfigError(msg)
    loader = _config_loader(project, env)
    source = f"argo.yml (env '{env}')"
    try:
        raw = _load_key(loader, "argo")
        parameters = _load_key(loader, "parameters")
        catalog = CatalogView(_load_key(loader, "catalog"))
    except ConfigError:
        raise
    except Exception as exc:
        msg = f"cannot load the configuration of env '{env}': {exc}".replace("\n", " ")
        raise ProjectError(msg) from exc
    if not raw:
        msg = (
            f"no argo.yml found for env '{env}' in {project.conf_source}; expected "
            f"conf/{project.base_env}/argo.yml or conf/{env}/argo.yml"
        )
        raise ConfigError(msg)
    config = parse_config(raw, source=source)
    return EnvSnapshot(
        env=env,
        config=config,
        parameters=parameters,
        parameter_comments=_parameter_comments(project, env, loader),
        catalog=catalog,
        experiment_name=_experiment_name(config, loader),
        image_tag=resolve_image_tag(config.image, project.path, hasher=hasher),
    )


def git_sha(project_path: Path) -> str:
    """Return the git SHA of the project (``$KEDRO_HERA_GIT_SHA`` wins).

    Args:
        project_path: A directory inside the git work tree.

    Returns:
        The commit SHA, or ``unknown`` outside a git work tree.
    """
    from_env = os.environ.get(GIT_SHA_ENV_VAR)
    if from_env:
        return from_env
    try:
        result = subprocess.run(
            ["git", "rev-parse", "HEAD"],
            cwd=project_path,
            capture_output=True,
            text=True,
            check=True,
            timeout=10,
        )
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    return result.stdout.strip() or "unknown"
