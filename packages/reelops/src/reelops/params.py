"""Check every node's parameters against its typed model, before any node runs.

Node functions annotate their ``params:`` inputs with pydantic models
(``split: SplitConfig``); Kedro 1.7 turns the configured mappings into those models
when a session builds its catalog. :func:`check_parameters` runs the same check
first, on the pipelines about to run, with one-line errors naming the parameters
file (``conf/base/parameters_training.yml: parameter 'mf.estimator': ...``), plus
the checks no single model can make (the selection's baseline must be one of the
candidates). ``kedro run`` calls it before it creates the session (so a ``--params``
typo costs no node and leaves no MLflow run), and ``make validate-pipelines`` (a
pre-commit hook) on every pipeline.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any, get_args

import yaml

from reelops._pydantic import parse_config
from reelops.errors import ConfigError

if TYPE_CHECKING:
    from pathlib import Path

    from kedro.pipeline import Pipeline

__all__ = ["check_parameters", "parameter_files"]

_MISSING = object()


def parameter_files(conf_source: Path, env: str | None) -> dict[str, str]:
    """Which file defines each top-level parameter (the environment's wins)."""
    files: dict[str, str] = {}
    for folder in ("base", env or "local"):
        for path in sorted((conf_source / folder).glob("parameters*.yml")):
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
            if isinstance(data, Mapping):
                where = f"{conf_source.name}/{folder}/{path.name}"
                files.update(dict.fromkeys(map(str, data), where))
    return files


def _value(parameters: Mapping[str, Any], dotted: str) -> Any:
    value: Any = parameters
    for part in dotted.split("."):
        if not isinstance(value, Mapping) or part not in value:
            return _MISSING
        value = value[part]
    return value


def _required(annotation: Any) -> Any:
    """``Model`` for ``Model | None`` (the model Kedro validates), else as is."""
    args = [a for a in get_args(annotation) if a is not type(None)]
    return args[0] if len(args) == 1 else annotation


def _candidates(pipelines: Mapping[str, Pipeline]) -> set[str]:
    """The namespaces in which a candidate model is fitted."""
    return {
        str(node.namespace)
        for pipe in pipelines.values()
        for node in pipe.nodes
        if node.namespace and getattr(node.func, "__name__", "") == "fit_candidate"
    }


def check_parameters(
    pipelines: Mapping[str, Pipeline],
    parameters: Mapping[str, Any],
    files: Mapping[str, str],
) -> None:
    """Validate the typed ``params:`` inputs of ``pipelines`` against ``parameters``.

    Raises:
        ConfigError: One line: the file, the parameter, what is wrong, what was
            expected and what was received.
    """
    from kedro.validation.type_extractor import TypeExtractor

    def where(key: str) -> str:
        top = key.split(".", 1)[0]
        return f"{files.get(top, 'no parameters file')}: parameter '{key}'"

    requirements = TypeExtractor(dict(pipelines)).extract_types_from_pipelines()
    for key, expected in sorted(requirements.items()):
        value = _value(parameters, key)
        if value is _MISSING:
            raise ConfigError(
                f"{where(key)} is not defined: a node of the pipeline reads it "
                f"(expected a mapping for {getattr(expected, '__name__', expected)})"
            )
        model = _required(expected)
        if value is None and model is not expected:
            continue  # Optional[Model]: None is allowed
        if not isinstance(value, Mapping):
            raise ConfigError(
                f"{where(key)}: expected a mapping for {model.__name__}, got "
                f"{type(value).__name__} {value!r}"
            )
        parse_config(model, value, where(key))
    candidates = _candidates(pipelines)
    selection = _value(parameters, "selection")
    if candidates and isinstance(selection, Mapping):
        baseline = selection.get("baseline")
        if baseline is not None and baseline not in candidates:
            raise ConfigError(
                f"{where('selection.baseline')}: '{baseline}' is not a candidate "
                f"(expected one of: {', '.join(sorted(candidates))})"
            )
