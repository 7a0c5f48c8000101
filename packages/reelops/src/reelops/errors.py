"""The reelops exception hierarchy: one base error, one subclass per failure family."""

from __future__ import annotations

from kedro.io.core import DatasetError

import reelops_contracts

__all__ = [
    "ArtifactIntegrityError",
    "ConfigError",
    "DataSourceError",
    "PipelineSpecError",
    "ReelopsError",
    "SchemaMismatchError",
]


class ReelopsError(Exception):
    """Base class of every error raised by the reelops project package."""


class PipelineSpecError(ReelopsError):
    """A pipeline YAML file under ``pipelines/`` is invalid."""


class ConfigError(ReelopsError):
    """A configuration file or parameter block is invalid."""


class DataSourceError(ReelopsError):
    """A raw data source is missing, unreachable or fails its checksum."""


class SchemaMismatchError(ReelopsError):
    """A raw file's header does not have the columns the schema expects."""


class ArtifactIntegrityError(
    ReelopsError, DatasetError, reelops_contracts.ArtifactIntegrityError
):
    """A model file's sha256 differs from the one recorded when it was saved.

    Also a :class:`~kedro.io.core.DatasetError`, so a catalog load raises it as it
    is (one line) instead of wrapping it, and the contracts' error, which the
    service raises for a bundle (:func:`reelops_contracts.verify_sha256`).
    """
