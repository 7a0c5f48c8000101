"""``deploy/environments/<env>.yaml``: what runs where, validated."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field

from reelops._pydantic import parse_config
from reelops.errors import ConfigError

if TYPE_CHECKING:
    from pathlib import Path

__all__ = [
    "ENVIRONMENT_ALIASES",
    "DeployedModel",
    "EnvironmentFile",
    "dump_environment",
    "load_environment",
    "parse_environment",
]

#: The MLflow alias each environment's model carries. Only ``kedro promote --sync``
#: moves them, after a change of the environment file reached main (git wins).
ENVIRONMENT_ALIASES: dict[str, str] = {
    "dev": "dev",
    "staging": "staging",
    "prod": "champion",
}

_HEADER = (
    "# What runs in this environment. Written by `kedro promote`, reviewed and\n"
    "# merged like code: a merge that changes this file is what deploys. To roll\n"
    "# back, run `kedro promote --rollback <env>` rather than editing by hand.\n"
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DeployedModel(_Strict):
    """The registered model an environment serves, with its lineage."""

    name: str
    version: str
    run_id: str
    candidate: str
    git_sha: str = Field(pattern=r"^[0-9a-f]{40}$")
    data_sha256: str = Field(pattern=r"^[0-9a-f]{64}$")
    bento_tag: str | None = None
    #: ``repository:tag``, or ``repository:tag@sha256:...`` once it was pushed.
    image: str | None = Field(
        default=None, pattern=r"^\S+:[\w][\w.-]*(@sha256:[0-9a-f]{64})?$"
    )
    metrics: dict[str, float] = {}
    promoted_at: datetime
    promoted_from: str


class EnvironmentFile(_Strict):
    """One environment file: its name and the model it serves (``null``: none yet)."""

    environment: Literal["dev", "staging", "prod"]
    model: DeployedModel | None = None

    @property
    def alias(self) -> str:
        """The MLflow alias that must point at this environment's model version."""
        return ENVIRONMENT_ALIASES[self.environment]


def parse_environment(text: str, where: str) -> EnvironmentFile:
    """Validate an environment file's YAML text (one-line :class:`ConfigError`)."""
    try:
        data: Any = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ConfigError(f"{where}: invalid YAML") from exc
    if not isinstance(data, dict):
        raise ConfigError(f"{where}: expected a mapping, got {type(data).__name__}")
    return parse_config(EnvironmentFile, data, where)


def load_environment(path: Path) -> EnvironmentFile:
    """Read and validate ``path``."""
    if not path.exists():
        raise ConfigError(f"{path}: environment file not found")
    env = parse_environment(path.read_text(encoding="utf-8"), str(path))
    if env.environment != path.stem:
        raise ConfigError(
            f"{path}: environment '{env.environment}' does not match the file name "
            f"(expected '{path.stem}')"
        )
    return env


def dump_environment(env: EnvironmentFile) -> str:
    """The canonical YAML text of ``env`` (stable key order, so diffs stay small)."""
    data = env.model_dump(mode="json")
    return _HEADER + yaml.safe_dump(data, sort_keys=False, default_flow_style=False)
