"""Custom Kedro datasets of the reelops project.

Each name is imported from its module on first access (PEP 562), as
``kedro_datasets`` does: the node modules import a few light helpers from here,
and Kedro imports every node module on every command, while some datasets import
MLflow (seconds) when their module loads. The catalog's ``type:`` paths work
unchanged: Kedro resolves them with ``getattr``.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from reelops.datasets.bento_build import BentoBuildSpec, BentoDataset
    from reelops.datasets.bento_lineage import RegisteredVersionDataset
    from reelops.datasets.bento_model import BentoModelDataset, PackagingSkipped
    from reelops.datasets.candidate_run import (
        MlflowCandidateRunDataset,
        MlflowTrainingSummaryDataset,
    )
    from reelops.datasets.checksums import FileChecksumsDataset
    from reelops.datasets.chunked_parquet import ChunkedParquetDataset
    from reelops.datasets.mlflow_tags import MlflowTagsDataset
    from reelops.datasets.profile import ProfileDataset, ProfileDirectoryDataset
    from reelops.datasets.raw_csv import RawCSVDataset
    from reelops.datasets.registered_model import RegisteredModelDataset
    from reelops.datasets.verified_pickle import VerifiedPickleDataset

#: Public name -> the module of this package that defines it.
_MODULES = {
    "BentoBuildSpec": "bento_build",
    "BentoDataset": "bento_build",
    "BentoModelDataset": "bento_model",
    "ChunkedParquetDataset": "chunked_parquet",
    "FileChecksumsDataset": "checksums",
    "MlflowCandidateRunDataset": "candidate_run",
    "MlflowTagsDataset": "mlflow_tags",
    "MlflowTrainingSummaryDataset": "candidate_run",
    "PackagingSkipped": "bento_model",
    "ProfileDataset": "profile",
    "ProfileDirectoryDataset": "profile",
    "RawCSVDataset": "raw_csv",
    "RegisteredModelDataset": "registered_model",
    "RegisteredVersionDataset": "bento_lineage",
    "VerifiedPickleDataset": "verified_pickle",
}

__all__ = [
    "BentoBuildSpec",
    "BentoDataset",
    "BentoModelDataset",
    "ChunkedParquetDataset",
    "FileChecksumsDataset",
    "MlflowCandidateRunDataset",
    "MlflowTagsDataset",
    "MlflowTrainingSummaryDataset",
    "PackagingSkipped",
    "ProfileDataset",
    "ProfileDirectoryDataset",
    "RawCSVDataset",
    "RegisteredModelDataset",
    "RegisteredVersionDataset",
    "VerifiedPickleDataset",
]


def __getattr__(name: str) -> Any:
    module = _MODULES.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{module}"), name)


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})
