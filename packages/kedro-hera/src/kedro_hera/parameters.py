r"""Kedro parameters as Argo WorkflowTemplate parameters.

Every parameter a pipeline reads becomes one Argo parameter per leaf (nested keys
flatten to dotted keys; ``model.lr`` is named ``model__lr`` in Argo, whose names
allow no dots). Each task passes them back to ``kedro run --params`` as
``model.lr={{workflow.parameters.model__lr}}``.

``kedro run --params`` splits its value on every comma and then reads each value
with OmegaConf's YAML parser. The encoding here therefore never contains a comma:

* scalars are written as YAML scalars (``0.1``, ``true``, ``null``, ``hello``);
  strings that would read back as something else are double-quoted (``"007"``);
* a comma inside a string is written ``\\x2c`` inside double quotes;
* lists and mappings are written as block YAML (``- 5`` lines), never as flow
  YAML or JSON, whose separators are commas.

Every encoded value is decoded again the way Kedro does and must give back the
same value and type, otherwise compilation fails.
"""

from __future__ import annotations

import functools
import json
import math
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

import yaml
from omegaconf import OmegaConf

from kedro_hera._names import argo_parameter_name
from kedro_hera.errors import ParameterError

__all__ = [
    "DESCRIPTION_KEY",
    "ParameterSpec",
    "decode_params_option",
    "decode_value",
    "describe_parameters",
    "encode_override",
    "encode_value",
    "flatten_parameters",
    "parameter_specs",
    "params_option",
    "used_parameter_keys",
]

DESCRIPTION_KEY = "_description"


@dataclass(frozen=True)
class ParameterSpec:
    """One Kedro parameter leaf exposed as an Argo parameter.

    Attributes:
        key: Dotted Kedro key, e.g. ``model.learning_rate``.
        argo_name: Argo parameter name, e.g. ``model__learning_rate``.
        value: The default value, as the env's config loader resolved it.
        encoded: The default as an Argo parameter value (see module docstring).
        description: From a YAML comment or a ``_description`` entry, if any.
    """

    key: str
    argo_name: str
    value: Any
    encoded: str
    description: str | None


def flatten_parameters(params: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """Flatten nested parameters to dotted leaf keys.

    Lists and empty mappings are leaves; ``_description`` entries are dropped.

    Args:
        params: Nested parameters.
        prefix: Dotted prefix of ``params``.

    Returns:
        Mapping from dotted key to leaf value.
    """
    flat: dict[str, Any] = {}
    for key, value in params.items():
        if key == DESCRIPTION_KEY:
            continue
        dotted = f"{prefix}.{key}" if prefix else str(key)
        if isinstance(value, Mapping) and value:
            flat.update(flatten_parameters(value, dotted))
        else:
            flat[dotted] = value
    return flat


def describe_parameters(
    params: Mapping[str, Any],
    comments: Mapping[str, str],
    *,
    prefix: str = "",
    inherited: str | None = None,
) -> dict[str, str]:
    """Find the description of every leaf parameter.

    A leaf is described by its own YAML comment or by an entry of a sibling
    ``_description`` mapping; otherwise by the nearest enclosing mapping's
    description (its comment or a ``_description`` string).

    Args:
        params: Nested parameters.
        comments: YAML comments by dotted key (see ``_comments.yaml_key_comments``).
        prefix: Dotted prefix of ``params``.
        inherited: Description of the enclosing mapping.

    Returns:
        Mapping from dotted leaf key to description.
    """
    described = params.get(DESCRIPTION_KEY)
    group_text = described if isinstance(described, str) else None
    per_child = described if isinstance(described, Mapping) else {}
    here = group_text or inherited
    result: dict[str, str] = {}
    for key, value in params.items():
        if key == DESCRIPTION_KEY:
            continue
        dotted = f"{prefix}.{key}" if prefix else str(key)
        child_text = per_child.get(key)
        own = comments.get(dotted) or (
            child_text if isinstance(child_text, str) else None
        )
        if isinstance(value, Mapping) and value:
            result.update(
                describe_parameters(
                    value, comments, prefix=dotted, inherited=own or here
                )
            )
        elif own or here:
            result[dotted] = str(own or here)
    return result


def _same(left: Any, right: Any) -> bool:
    """Compare values and their types (``1``, ``1.0`` and ``True`` differ)."""
    if type(left) is not type(right):
        return False
    if isinstance(left, list):
        return len(left) == len(right) and all(map(_same, left, right))
    if isinstance(left, dict):
        return left.keys() == right.keys() and all(
            _same(left[k], right[k]) for k in left
        )
    if isinstance(left, float) and math.isnan(left):
        return math.isnan(right)
    return bool(left == right)


class _BlockDumper(yaml.SafeDumper):
    """Block-style YAML whose strings holding a comma are double-quoted."""


def _represent_str(dumper: yaml.SafeDumper, data: str) -> yaml.ScalarNode:
    style = '"' if ("," in data or "\n" in data) else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", data, style=style)


_BlockDumper.add_representer(str, _represent_str)


def _yaml_text(value: Any) -> str:
    text = yaml.dump(
        value,
        Dumper=_BlockDumper,
        default_flow_style=False,
        allow_unicode=False,
        sort_keys=False,
        width=1_000_000,
    )
    if text.endswith("\n...\n"):
        text = text[: -len("\n...\n")]
    # Every comma now sits inside a double-quoted scalar, where \x2c reads back as ','.
    return text.rstrip("\n").replace(",", "\\x2c")


def _candidates(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value, json.dumps(value).replace(",", "\\x2c")]
    if isinstance(value, list | dict) and not value:
        return ["[]" if isinstance(value, list) else "{}"]
    return [_yaml_text(value)]


def decode_params_option(text: str) -> dict[str, Any]:
    """Read a ``kedro run --params`` value the way Kedro 1.x does.

    The value is split on every comma, each item on its first '=', and the
    ``key=value`` items are read by ``OmegaConf.from_dotlist`` (a YAML parser).

    Args:
        text: The ``--params`` value.

    Returns:
        The nested runtime parameters.

    Raises:
        ParameterError: When an item has no '=' or an empty key, as Kedro would.
    """
    dot_list = []
    for raw_item in text.split(","):
        item = raw_item.strip()
        if not item:
            continue
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            msg = f"kedro run --params cannot read item '{item}': expected 'key=value'"
            raise ParameterError(msg)
        dot_list.append(f"{key.strip()}={value}")
    container = OmegaConf.to_container(OmegaConf.from_dotlist(dot_list))
    if not isinstance(container, dict):  # pragma: no cover - from_dotlist gives a dict
        return {}
    return {str(key): value for key, value in container.items()}


def decode_value(text: str) -> Any:
    """Read one encoded value back the way ``kedro run --params k=<text>`` does.

    Args:
        text: An encoded value.

    Returns:
        The value Kedro would receive.

    Raises:
        ParameterError: When Kedro could not read it as a single value.
    """
    return decode_params_option(f"k={text}")["k"]


@functools.lru_cache(maxsize=4096)
def _decode_for_comparison(text: str) -> Any:
    """:func:`decode_value`, remembered across a compile's many equal values.

    A compile encodes the same values for every pipeline and env; the result is
    only compared, never handed out, so sharing it is safe.
    """
    return decode_value(text)


def encode_value(value: Any, *, key: str = "<value>") -> str:
    """Encode a parameter value so that ``kedro run --params`` reads it back exactly.

    Args:
        value: A parameter value (scalar, list or mapping).
        key: The parameter's dotted key, for error messages.

    Returns:
        The encoded value, free of commas.

    Raises:
        ParameterError: When no encoding reads back as the same value and type.
    """
    for candidate in _candidates(value):
        try:
            decoded = _decode_for_comparison(candidate)
        except (ParameterError, ValueError, yaml.YAMLError):
            continue
        if _same(decoded, value):
            return candidate
    msg = (
        f"parameter '{key}' value {value!r} cannot pass through `kedro run --params` "
        "unchanged; use a plain scalar, list or mapping"
    )
    raise ParameterError(msg)


def encode_override(key: str, value: Any, default: Any) -> str:
    """Encode an override of a parameter, checking it keeps the default's type.

    A string default takes the value verbatim. Otherwise a text value (typed on
    the command line) is read as YAML, so JSON such as ``[5, 10]`` works; an int
    is accepted where the default is a float.

    Args:
        key: Dotted Kedro key.
        value: The override, as text or as a typed YAML value.
        default: The parameter's default value.

    Returns:
        The encoded override.

    Raises:
        ParameterError: When the override is not of the default's type.
    """
    if isinstance(default, str):
        return encode_value(value if isinstance(value, str) else str(value), key=key)
    if isinstance(value, str):
        try:
            value = yaml.safe_load(value)
        except yaml.YAMLError as exc:
            msg = f"parameter '{key}' override {value!r} is not valid YAML or JSON"
            raise ParameterError(msg) from exc
    same_kind = (
        default is None
        or type(value) is type(default)
        or (type(default) is float and type(value) is int)
    )
    if not same_kind:
        msg = (
            f"parameter '{key}' expects a {type(default).__name__} like "
            f"{default!r}, got {value!r} instead"
        )
        raise ParameterError(msg)
    if isinstance(default, float) and isinstance(value, int):
        value = float(value)
    return encode_value(value, key=key)


def used_parameter_keys(
    inputs: Iterable[str], flat_keys: Iterable[str]
) -> tuple[set[str], list[str]]:
    """Find the flat parameter keys that node inputs read.

    Args:
        inputs: Node input names (``params:x``, ``parameters`` or datasets).
        flat_keys: Every flat parameter key of the env.

    Returns:
        The used flat keys, and the ``params:`` references matching no parameter.
    """
    keys = sorted(set(flat_keys))
    used: set[str] = set()
    missing: list[str] = []
    for name in sorted(set(inputs)):
        if name == "parameters":
            used.update(keys)
        elif name.startswith("params:"):
            ref = name.removeprefix("params:")
            matches = {k for k in keys if k == ref or k.startswith(ref + ".")}
            if not matches:
                missing.append(ref)
            used.update(matches)
    return used, missing


def parameter_specs(
    keys: Iterable[str],
    flat: Mapping[str, Any],
    descriptions: Mapping[str, str],
) -> list[ParameterSpec]:
    """Build the Argo parameter of every used flat key.

    Args:
        keys: Flat keys to expose.
        flat: Every flat parameter of the env.
        descriptions: Descriptions by flat key.

    Returns:
        Specs sorted by key.

    Raises:
        ParameterError: When a key cannot be an Argo parameter name, two keys map
            to the same name, or a value cannot round-trip.
    """
    specs: list[ParameterSpec] = []
    owners: dict[str, str] = {}
    for key in sorted(set(keys)):
        name = argo_parameter_name(key)
        if name is None:
            msg = (
                f"parameter key '{key}' cannot be an Argo parameter name: each "
                "dotted segment may only hold letters, digits, '-', '_' and '@'"
            )
            raise ParameterError(msg)
        if name in owners:
            msg = (
                f"parameters '{owners[name]}' and '{key}' both map to the Argo "
                f"parameter '{name}'; rename one of them"
            )
            raise ParameterError(msg)
        owners[name] = key
        specs.append(
            ParameterSpec(
                key=key,
                argo_name=name,
                value=flat[key],
                encoded=encode_value(flat[key], key=key),
                description=descriptions.get(key),
            )
        )
    return specs


def params_option(specs: Iterable[ParameterSpec]) -> str:
    """Build the ``kedro run --params`` value referencing the workflow parameters.

    Args:
        specs: Parameters a task passes on.

    Returns:
        ``key={{workflow.parameters.name}}`` items joined by commas.
    """
    return ",".join(
        f"{spec.key}={{{{workflow.parameters.{spec.argo_name}}}}}" for spec in specs
    )
