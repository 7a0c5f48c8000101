"""Packaging stage: the registered challenger, bundled for serving, built as a bento.

Pure functions: they decide what to package and how to label it; saving to the
BentoML store, building the bento and tagging the MLflow run are datasets
(:class:`~reelops.datasets.BentoModelDataset`,
:class:`~reelops.datasets.BentoDataset`,
:class:`~reelops.datasets.MlflowTagsDataset`).
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd
from pydantic import BaseModel, ConfigDict, Field

from reelops._pydantic import as_config, parse_config
from reelops._types import BaseRecommender
from reelops.datasets.bento_build import BentoBuildSpec
from reelops.datasets.bento_model import PackagingSkipped
from reelops_contracts import (
    MOVIE_COLUMNS,
    USER_COLUMNS,
    VALIDATION_METADATA_KEY,
    ServingBundle,
    ValidationRules,
)

__all__ = [
    "PackagingConfig",
    "assemble_serving_bundle",
    "plan_bento_build",
    "serving_tags",
]

_LABEL_KEY = re.compile(r"[^a-z0-9_]+")


class PackagingConfig(BaseModel):
    """How models are packaged (``parameters_packaging.yml``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model_name: str = Field(default="reelops-recommender", pattern=r"^[a-z0-9._-]+$")
    key_metrics: list[str] = ["ndcg@10", "precision@10", "recall@10", "rmse"]


def _label_key(metric: str) -> str:
    return _LABEL_KEY.sub("_", metric.replace("@", "_at_").lower()).strip("_")


def _version(model_version: str, run_id: str) -> str:
    """A tag version naming one registered version (``v3-0f4c1d2e``)."""
    return f"v{model_version}-{run_id[:8]}".lower()


def _skipped(reason: str) -> tuple[PackagingSkipped, dict[str, Any]]:
    return PackagingSkipped(reason=reason), {"packaged": False, "reason": reason}


def assemble_serving_bundle(  # noqa: PLR0917 - one input per dataset
    champion_decision: dict[str, Any],
    challenger_model: BaseRecommender | None,
    challenger_version: dict[str, Any] | None,
    movie_features: pd.DataFrame,
    user_features: pd.DataFrame,
    validation: dict[str, Any],
    packaging: PackagingConfig,
) -> tuple[ServingBundle | PackagingSkipped, dict[str, Any]]:
    """Bundle the challenger this run registered with what serving needs.

    The bundle holds the estimator, the catalog (title, year, genres, popularity),
    the users' activity buckets, the rules ingested ratings follow (``/feedback``
    applies them), lineage and key metrics. When the run refused to register a
    candidate, nothing new is packaged and the summary says why.

    Returns:
        The bundle (or why nothing is packaged) and a JSON summary of the decision.

    Raises:
        ValueError: The run says it registered a model but the registry alias
            points at a version another run registered.
    """
    cfg = as_config(PackagingConfig, packaging, "parameters 'packaging'")
    rules = parse_config(ValidationRules, validation, "parameters 'validation'")
    candidate = str(champion_decision["champion"])
    if not champion_decision["register"]:
        reasons = "; ".join(champion_decision.get("reasons") or []) or "no reason"
        return _skipped(f"this run did not register {candidate}: {reasons}")
    if challenger_model is None or challenger_version is None:
        raise ValueError(
            f"the run registered {candidate} but the challenger_model dataset finds "
            "no model behind its alias"
        )
    if not challenger_version["registered_in_active_run"]:
        raise ValueError(
            f"{challenger_version['model_name']}@{challenger_version['alias']} is "
            f"version {challenger_version['version']} of run "
            f"{challenger_version['run_id']}, not the one this run registered"
        )
    version = str(challenger_version["version"])
    run_id = str(challenger_version["run_id"])
    run_tags = challenger_version["run_tags"]
    metrics = {
        k: float(v)
        for k, v in challenger_version["metrics"].items()
        if isinstance(v, int | float)
    }
    tag_version = _version(version, run_id)
    labels = {
        "registered_model": str(challenger_version["model_name"]),
        "model_version": version,
        "mlflow_run_id": run_id,
        "candidate": candidate,
        "estimator": type(challenger_model).__name__,
        "git_sha": run_tags.get("git.sha", "unknown"),
        "git_dirty": run_tags.get("git.dirty", "unknown"),
        "data_sha256": run_tags.get("data.sha256", "unknown"),
        **{
            _label_key(m): f"{metrics[_label_key(m)]:.6g}"
            for m in cfg.key_metrics
            if _label_key(m) in metrics
        },
    }
    metadata = {
        **labels,
        "metrics": metrics,
        # every rule, defaults included: /feedback applies them as packaged
        VALIDATION_METADATA_KEY: rules.model_dump(mode="json", exclude_none=True),
        "genres": sorted(rules.genres),
        "n_movies": len(movie_features),
        "n_users": len(user_features),
    }
    bundle = ServingBundle(
        tag=f"{cfg.model_name}:{tag_version}",
        estimator=challenger_model,
        movies=movie_features[list(MOVIE_COLUMNS)].reset_index(drop=True),
        users=user_features[list(USER_COLUMNS)].reset_index(drop=True),
        metadata=metadata,
        labels=labels,
    )
    summary = {
        "packaged": True,
        "reason": None,
        "model_tag": bundle.tag,
        "bento_version": tag_version,
        "labels": labels,
    }
    return bundle, summary


def plan_bento_build(
    packaging_summary: dict[str, Any],
) -> BentoBuildSpec | PackagingSkipped:
    """The bento to build for the model this run packaged (or why none)."""
    if not packaging_summary["packaged"]:
        return PackagingSkipped(reason=str(packaging_summary["reason"]))
    return BentoBuildSpec(
        version=str(packaging_summary["bento_version"]),
        model_tag=str(packaging_summary["model_tag"]),
        labels={
            **packaging_summary["labels"],
            "model_tag": str(packaging_summary["model_tag"]),
        },
    )


def serving_tags(
    packaging_summary: dict[str, Any], serving_bento: dict[str, Any] | None
) -> dict[str, str]:
    """MLflow run tags: the model and bento this run packaged, or why none.

    Raises:
        ValueError: The newest bento in the store is not the one planned.
    """
    if not packaging_summary["packaged"]:
        return {
            "packaged": "false",
            "skipped_because": str(packaging_summary["reason"]),
        }
    version = str(packaging_summary["bento_version"])
    if serving_bento is None or not str(serving_bento["tag"]).endswith(f":{version}"):
        got = None if serving_bento is None else serving_bento["tag"]
        raise ValueError(
            f"expected the newest bento to have version {version}, got {got!r}"
        )
    tag = str(serving_bento["tag"])
    tags = {
        "packaged": "true",
        "model_tag": str(packaging_summary["model_tag"]),
        "bento_tag": tag,
    }
    if serving_bento.get("archive"):
        tags["bento_archive"] = str(serving_bento["archive"])
    return tags
