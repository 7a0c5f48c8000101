"""How reelops reads its ``conf/`` tree: resolvers and a loader factory."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import yaml
from kedro.config import OmegaConfigLoader
from omegaconf.resolvers import oc

from reelops.pipeline_spec import CatalogNames

__all__ = [
    "CONFIG_LOADER_ARGS",
    "ENVIRONMENTS",
    "catalog_names",
    "local_artifacts",
    "make_config_loader",
]

#: The environments of ``conf/`` besides ``base`` and the git-ignored ``local``.
ENVIRONMENTS: tuple[str, ...] = ("dev", "staging", "prod")


def local_artifacts(tracking_uri: str) -> str | None:
    """``mlartifacts`` (beside the DB) for a local tracking store, else ``None``.

    A remote tracking server decides where artifacts go; a local SQLite store
    keeps them in the project, next to ``mlflow.db``.
    """
    local = tracking_uri.startswith(("sqlite:", "file:")) or "://" not in tracking_uri
    return "mlartifacts" if local else None


#: ``oc.env`` is enabled in every file (Kedro enables it only in credentials), so
#: globals can take data roots and the tracking URI from the environment.
CONFIG_LOADER_ARGS: dict[str, Any] = {
    "base_env": "base",
    "default_run_env": "local",
    "custom_resolvers": {"oc.env": oc.env, "local_artifacts": local_artifacts},
    # Overlays of mlflow.yml and argo.yml change single keys, not whole sections.
    "merge_strategy": {
        "mlflow": "soft",
        "argo": "soft",
        "globals": "soft",
        "promotion": "soft",
    },
    "config_patterns": {
        "mlflow": ["mlflow*", "mlflow*/**", "**/mlflow*"],
        "argo": ["argo*", "argo*/**"],
        "promotion": ["promotion*"],
    },
}


def make_config_loader(
    conf_source: Path,
    env: str | None = None,
    runtime_params: dict[str, Any] | None = None,
) -> OmegaConfigLoader:
    """Build the loader ``kedro run --env ENV --params ...`` uses, without a session.

    Use it in a process that runs no session, or with the env the session will
    use: Kedro's ``globals`` resolver is process-wide, and the last loader built
    decides what it resolves to.
    """
    args = dict(CONFIG_LOADER_ARGS)
    return OmegaConfigLoader(
        conf_source=str(conf_source), env=env, runtime_params=runtime_params, **args
    )


def _yaml_files(conf_dir: Path, stem: str) -> list[Path]:
    """The files Kedro's ``<stem>*`` patterns match in one environment directory."""
    found = {*conf_dir.glob(f"{stem}*.yml"), *conf_dir.glob(f"{stem}*/**/*.yml")}
    found |= set(conf_dir.glob(f"**/{stem}*.yml"))
    return sorted(found)


def catalog_names(conf_source: Path, env: str = "base") -> CatalogNames:
    """Dataset names, factory patterns and parameter keys declared in ``env``.

    Only names are needed, so the YAML is read as it is, without a config loader:
    building a second :class:`OmegaConfigLoader` would re-register Kedro's
    process-wide ``globals`` resolver and make the running session resolve its
    catalog with this environment's globals.
    """
    env_dir = conf_source / env
    catalog: dict[str, Any] = {}
    for path in _yaml_files(env_dir, "catalog"):
        catalog.update(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    parameters: dict[str, Any] = {}
    for path in _yaml_files(env_dir, "parameters"):
        parameters.update(yaml.safe_load(path.read_text(encoding="utf-8")) or {})
    names = [k for k in catalog if not k.startswith("_")]
    return CatalogNames(
        datasets=frozenset(k for k in names if "{" not in k),
        patterns=tuple(k for k in names if "{" in k),
        parameters=parameters,
    )


def project_root() -> Path:
    """The Kedro project directory (``REELOPS_PROJECT_ROOT`` or the working dir)."""
    return Path(os.environ.get("REELOPS_PROJECT_ROOT", Path.cwd()))
