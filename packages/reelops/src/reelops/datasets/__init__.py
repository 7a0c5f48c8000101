"""Custom Kedro datasets of the reelops project."""

from reelops.datasets.bento_build import BentoBuildSpec, BentoDataset
from reelops.datasets.bento_lineage import RegisteredVersionDataset
from reelops.datasets.bento_model import (
    BentoModelDataset,
    PackagingSkipped,
    ServingBundle,
)
from reelops.datasets.checksums import FileChecksumsDataset
from reelops.datasets.mlflow_tags import MlflowTagsDataset
from reelops.datasets.profile import ProfileDataset, ProfileDirectoryDataset
from reelops.datasets.raw_csv import RawCSVDataset
from reelops.datasets.registered_model import RegisteredModelDataset

__all__ = [
    "BentoBuildSpec",
    "BentoDataset",
    "BentoModelDataset",
    "FileChecksumsDataset",
    "MlflowTagsDataset",
    "PackagingSkipped",
    "ProfileDataset",
    "ProfileDirectoryDataset",
    "RawCSVDataset",
    "RegisteredModelDataset",
    "RegisteredVersionDataset",
    "ServingBundle",
]
