"""How reelops reads its ``conf/`` tree: resolvers and a loader factory."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

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


def make_config_loader(conf_source: Path, env: str | None = None) -> OmegaConfigLoader:
    """Build the loader ``kedro run --env ENV`` uses, without a Kedro session."""
    args = dict(CONFIG_LOADER_ARGS)
    return OmegaConfigLoader(conf_source=str(conf_source), env=env, **args)


def catalog_names(conf_source: Path, env: str = "base") -> CatalogNames:
    """Dataset names, factory patterns and parameters declared for ``env``."""
    loader = make_config_loader(conf_source, env)
    catalog = {k: v for k, v in loader["catalog"].items() if not k.startswith("_")}
    patterns = tuple(k for k in catalog if "{" in k)
    return CatalogNames(
        datasets=frozenset(k for k in catalog if "{" not in k),
        patterns=patterns,
        parameters=loader["parameters"],
    )


def project_root() -> Path:
    """The Kedro project directory (``REELOPS_PROJECT_ROOT`` or the working dir)."""
    return Path(os.environ.get("REELOPS_PROJECT_ROOT", Path.cwd()))
