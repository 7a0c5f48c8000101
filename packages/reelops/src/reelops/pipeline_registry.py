"""Register the pipelines declared in ``pipelines/*.yml``."""

from __future__ import annotations

from typing import TYPE_CHECKING

from reelops.config import catalog_names, project_root
from reelops.pipeline_spec import build_pipelines, load_pipeline_files

if TYPE_CHECKING:
    from kedro.pipeline import Pipeline

__all__ = ["register_pipelines"]


def register_pipelines() -> dict[str, Pipeline]:
    """Load, validate and build every pipeline file.

    ``__default__`` is the union of the files marked ``default: true``.
    """
    root = project_root()
    files = load_pipeline_files(root / "pipelines")
    return build_pipelines(files, catalog_names(root / "conf"))
