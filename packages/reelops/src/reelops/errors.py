"""The reelops exception hierarchy: one base error, one subclass per failure family."""

from __future__ import annotations

__all__ = [
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
