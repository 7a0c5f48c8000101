"""Validate config mappings into pydantic models with one-line errors."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar, cast

from pydantic import BaseModel, ValidationError

from reelops.errors import ConfigError

if TYPE_CHECKING:
    from collections.abc import Mapping

__all__ = ["as_config", "parse_config"]

M = TypeVar("M", bound=BaseModel)


def parse_config(model: type[M], data: Mapping[str, Any] | None, where: str) -> M:
    """``model.model_validate(data)``, re-raised as a one-line :class:`ConfigError`.

    The message names ``where`` (e.g. ``parameters 'validation'``), the offending key,
    what was expected and what was received.
    """
    try:
        return model.model_validate(dict(data or {}))
    except ValidationError as exc:
        err = exc.errors()[0]
        key = ".".join(str(p) for p in err["loc"]) or "<root>"
        if err["type"] == "extra_forbidden":
            fields = ", ".join(sorted(model.model_fields))
            msg = f"unknown key '{key}' (expected one of: {fields})"
        elif err["type"] == "missing":
            msg = f"missing required key '{key}'"
        elif not err["loc"]:  # a check of the whole model: its own message says all
            msg = str(err["msg"]).removeprefix("Value error, ")
        else:
            msg = f"key '{key}': {err['msg']}, got {err.get('input')!r}"
        raise ConfigError(f"{where}: {msg}") from exc


def as_config(model: type[M], value: M | Mapping[str, Any] | None, where: str) -> M:
    """``value`` when it already is a ``model``, else :func:`parse_config` of it.

    Kedro validates a node's parameters from its annotations before the run and
    hands the node the model; a direct call (a test, another module) may pass the
    mapping.
    """
    if isinstance(value, model):
        return value
    return parse_config(model, cast("Mapping[str, Any] | None", value), where)
