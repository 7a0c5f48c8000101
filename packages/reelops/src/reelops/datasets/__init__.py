"""Custom Kedro datasets of the reelops project."""

from reelops.datasets.checksums import FileChecksumsDataset
from reelops.datasets.mlflow_tags import MlflowTagsDataset
from reelops.datasets.profile import ProfileDataset, ProfileDirectoryDataset
from reelops.datasets.raw_csv import RawCSVDataset
from reelops.datasets.registered_model import RegisteredModelDataset

__all__ = [
    "FileChecksumsDataset",
    "MlflowTagsDataset",
    "ProfileDataset",
    "ProfileDirectoryDataset",
    "RawCSVDataset",
    "RegisteredModelDataset",
]
