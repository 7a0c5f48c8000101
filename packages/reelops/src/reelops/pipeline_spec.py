"""Load and validate the declarative pipeline files in ``pipelines/``.

Each ``pipelines/<name>.yml`` declares one Kedro pipeline: plain nodes, reusable
templates, and instances of those templates (one Kedro namespace each). Everything is
validated before a pipeline is built, and every problem is reported as a one-line
:class:`~reelops.errors.PipelineSpecError` naming the file and the node.

The format::

    description: Train every candidate model.
    default: true              # part of the default pipeline (``kedro run``)
    include: [features]        # pipelines whose nodes this one also runs
    nodes:
      - name: split_ratings_node
        func: reelops.nodes.split.split_ratings
        inputs: {ratings: ratings, split: params:split}
        outputs: [train_ratings, test_ratings]
        tags: [training]
    templates:
      candidate:
        nodes:
          - name: fit_model_node
            func: reelops.nodes.training.fit_model
            inputs: [train_ratings, params:model]
            outputs: model
    instances:
      - template: candidate
        namespaces: [bias, mf]   # params:model becomes params:bias.model, ...
        inputs: [train_ratings]  # datasets shared by every namespace

A node may also take one keyword input per namespace of a template (``foreach``),
so that adding a namespace never means editing the node that gathers them::

      - name: compare_models_node
        func: reelops.nodes.training.compare_models
        inputs: {split: split_summary}
        foreach: {template: candidate, dataset: "{namespace}.metrics"}
"""

from __future__ import annotations

import importlib
import inspect
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import parse
import yaml
from kedro.pipeline import Node, Pipeline, node
from pydantic import BaseModel, ConfigDict, ValidationError

from reelops.errors import PipelineSpecError

__all__ = [
    "ALLOWED_FUNCTION_PREFIXES",
    "CatalogNames",
    "ForEachSpec",
    "NodeSpec",
    "PipelineFile",
    "build_pipelines",
    "load_pipeline_files",
]

#: Node functions may only come from these modules: config never runs arbitrary code.
ALLOWED_FUNCTION_PREFIXES: tuple[str, ...] = ("reelops.nodes.",)
#: A pipeline file needs no YAML alias; a few are tolerated, more is refused before
#: anything expands them (a "billion laughs" file would hang the loader).
MAX_YAML_ALIASES = 20
#: Larger pipeline files are refused unread.
MAX_FILE_BYTES = 256 * 1024
#: Values quoted in error messages are cut to this many characters.
_MAX_QUOTED = 120

_NAME_RE = re.compile(r"^[a-z][a-z0-9_]*$")

Datasets = str | list[str] | dict[str, str] | None


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class ForEachSpec(_Spec):
    """Extra keyword inputs, one per namespace the file instantiates ``template`` in.

    ``template``: a template's name, or a list of them (their namespaces in the
    order of the instances). ``dataset`` is formatted with ``{namespace}``; the
    function receives each one as the keyword argument named after the namespace
    (so it takes ``**kwargs``).
    """

    template: str | list[str]
    dataset: str


class NodeSpec(_Spec):
    """One node: a function of the project's packages wired to named datasets."""

    name: str
    func: str
    inputs: Datasets = None
    outputs: Datasets = None
    tags: list[str] = []
    namespace: str | None = None
    foreach: ForEachSpec | None = None


class TemplateSpec(_Spec):
    """Nodes to instantiate once per namespace."""

    description: str = ""
    nodes: list[NodeSpec]


class InstanceSpec(_Spec):
    """Instantiate ``template`` once per namespace."""

    template: str
    namespaces: list[str]
    inputs: list[str] = []
    outputs: list[str] = []
    parameters: list[str] = []
    tags: list[str] = []


class PipelineFile(_Spec):
    """The content of one ``pipelines/<name>.yml``."""

    description: str = ""
    default: bool = False
    include: list[str] = []
    nodes: list[NodeSpec] = []
    templates: dict[str, TemplateSpec] = {}
    instances: list[InstanceSpec] = []


@dataclass(frozen=True)
class CatalogNames:
    """What the catalog and the parameters define, to find dangling inputs."""

    datasets: frozenset[str] = frozenset()
    patterns: tuple[str, ...] = ()
    parameters: Mapping[str, Any] = field(default_factory=dict)

    def defines(self, dataset: str) -> bool:
        """Whether ``dataset`` is declared explicitly or matches a factory pattern."""
        if dataset in self.datasets:
            return True
        return any(parse.parse(p, dataset) is not None for p in self.patterns)

    def has_parameter(self, dotted: str) -> bool:
        """Whether ``params:<dotted>`` names an existing (possibly nested) parameter."""
        value: Any = self.parameters
        for part in dotted.split("."):
            if not isinstance(value, Mapping) or part not in value:
                return False
            value = value[part]
        return True


# --------------------------------------------------------------------------- loading


class _AliasBudgetExceeded(Exception):
    """More YAML aliases than :data:`MAX_YAML_ALIASES`."""


class _BoundedLoader(yaml.SafeLoader):
    """``yaml.SafeLoader`` that counts aliases and stops past the budget."""

    def __init__(self, stream: str) -> None:
        super().__init__(stream)
        self._aliases = 0

    def compose_node(self, parent: Any, index: Any) -> Any:
        if self.check_event(yaml.AliasEvent):
            self._aliases += 1
            if self._aliases > MAX_YAML_ALIASES:
                raise _AliasBudgetExceeded
        return super().compose_node(parent, index)


def _quote(value: Any) -> str:
    """``repr(value)``, cut to :data:`_MAX_QUOTED` characters."""
    text = repr(value)
    return text if len(text) <= _MAX_QUOTED else f"{text[:_MAX_QUOTED]}... (cut)"


def _fields(model: type[BaseModel]) -> str:
    return ", ".join(sorted(model.model_fields))


def _describe_error(raw: Mapping[str, Any], exc: ValidationError) -> str:
    """Turn pydantic's first error into one line naming the node where possible."""
    err = exc.errors()[0]
    loc = list(err["loc"])
    where = ""
    model: type[BaseModel] = PipelineFile
    if loc[:1] == ["nodes"] and len(loc) > 1 and isinstance(loc[1], int):
        where = _node_label(raw.get("nodes", []), loc[1])
        model, loc = NodeSpec, loc[2:]
    elif loc[:1] == ["templates"] and len(loc) > 1:
        tpl = raw.get("templates", {}).get(loc[1], {})
        where = f"template '{loc[1]}'"
        model, loc = TemplateSpec, loc[2:]
        if loc[:1] == ["nodes"] and len(loc) > 1 and isinstance(loc[1], int):
            where += ", " + _node_label(tpl.get("nodes", []), loc[1])
            model, loc = NodeSpec, loc[2:]
    elif loc[:1] == ["instances"] and len(loc) > 1:
        where = f"instance #{int(loc[1]) + 1}"
        model, loc = InstanceSpec, loc[2:]
    prefix = f"{where}: " if where else ""
    key = ".".join(str(p) for p in loc)
    if err["type"] == "extra_forbidden":
        return f"{prefix}unknown key '{key}' (expected one of: {_fields(model)})"
    if err["type"] == "missing":
        return f"{prefix}missing required key '{key}'"
    return f"{prefix}key '{key}': {err['msg']}, got {_quote(err.get('input'))}"


def _node_label(nodes: Any, index: int) -> str:
    try:
        name = nodes[index].get("name")
    except (AttributeError, IndexError, KeyError, TypeError):
        name = None
    return f"node '{name}'" if name else f"node #{index + 1}"


def load_pipeline_files(directory: Path) -> dict[str, tuple[Path, PipelineFile]]:
    """Parse every ``*.yml`` of ``directory`` into validated :class:`PipelineFile` s.

    Raises:
        PipelineSpecError: on a YAML error or an unknown, missing or mistyped key.
    """
    files: dict[str, tuple[Path, PipelineFile]] = {}
    paths = sorted(directory.glob("*.yml"))
    if not paths:
        raise PipelineSpecError(f"{directory}: no pipeline files (*.yml) found")
    for path in paths:
        label = _label(path)
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise PipelineSpecError(
                f"{label}: {size} bytes, more than a pipeline file may have "
                f"({MAX_FILE_BYTES})"
            )
        try:
            text = path.read_text(encoding="utf-8")
            raw = yaml.load(text, _BoundedLoader) or {}  # noqa: S506 - a SafeLoader
        except _AliasBudgetExceeded as exc:
            raise PipelineSpecError(
                f"{label}: more than {MAX_YAML_ALIASES} YAML aliases; a pipeline "
                "file needs none (refused unexpanded: a possible alias bomb)"
            ) from exc
        except yaml.YAMLError as exc:
            mark = getattr(exc, "problem_mark", None)
            line = f" at line {mark.line + 1}" if mark is not None else ""
            raise PipelineSpecError(f"{label}: invalid YAML{line}") from exc
        if not isinstance(raw, dict):
            raise PipelineSpecError(
                f"{label}: expected a mapping at the top level, "
                f"got {type(raw).__name__}"
            )
        try:
            files[path.stem] = (path, PipelineFile.model_validate(raw))
        except ValidationError as exc:
            raise PipelineSpecError(f"{label}: {_describe_error(raw, exc)}") from exc
    return files


def _label(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


# -------------------------------------------------------------------------- building


def _resolve_function(
    ref: str, where: str, allowed_prefixes: Iterable[str]
) -> Callable[..., Any]:
    allowed = tuple(allowed_prefixes)
    if not ref.startswith(allowed) or any(
        part.startswith("_") for part in ref.split(".")
    ):
        raise PipelineSpecError(
            f"{where}: function '{ref}' is outside the project's packages "
            f"(expected a public function under {', '.join(allowed)})"
        )
    module_name, _, attr = ref.rpartition(".")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        raise PipelineSpecError(
            f"{where}: function '{ref}' not found (no module '{module_name}')"
        ) from exc
    func = getattr(module, attr, None)
    if func is None or not inspect.isfunction(func):
        raise PipelineSpecError(
            f"{where}: function '{ref}' not found "
            f"(module '{module_name}' has no function '{attr}')"
        )
    if func.__module__ != module_name:
        raise PipelineSpecError(
            f"{where}: function '{ref}' is not defined in '{module_name}' (it is "
            f"{func.__module__}.{func.__qualname__}, imported there): name a "
            "function the node module defines"
        )
    return func


def _check_signature(func: Callable[..., Any], inputs: Datasets, where: str) -> None:
    sig = inspect.signature(func)
    try:
        if inputs is None:
            sig.bind()
        elif isinstance(inputs, str):
            sig.bind(inputs)
        elif isinstance(inputs, list):
            sig.bind(*inputs)
        else:
            sig.bind(**inputs)
    except TypeError as exc:
        raise PipelineSpecError(
            f"{where}: inputs {inputs!r} do not match {func.__name__}{sig} ({exc})"
        ) from exc


def _check_names(
    specs: Iterable[NodeSpec], where: str, seen: dict[str, str], prefix: str = ""
) -> None:
    for spec in specs:
        name = f"{prefix}{spec.name}"
        if not _NAME_RE.match(spec.name):
            raise PipelineSpecError(
                f"{where}: node name '{spec.name}' must be snake_case "
                "(letters, digits, underscores)"
            )
        if name in seen:
            raise PipelineSpecError(
                f"{where}: duplicate node name '{name}' (also in {seen[name]})"
            )
        seen[name] = where


def _expand_foreach(
    spec: NodeSpec, where: str, namespaces: Mapping[str, list[str]]
) -> Datasets:
    if spec.foreach is None:
        return spec.inputs
    templates = spec.foreach.template
    templates = [templates] if isinstance(templates, str) else templates
    for template in templates:
        if template not in namespaces:
            raise PipelineSpecError(
                f"{where}: foreach names template '{template}' that this file does "
                f"not instantiate (expected one of: "
                f"{', '.join(sorted(namespaces)) or 'none'})"
            )
    if spec.inputs is not None and not isinstance(spec.inputs, dict):
        raise PipelineSpecError(
            f"{where}: foreach needs inputs as a mapping of argument to dataset, "
            f"got {spec.inputs!r}"
        )
    extra = {
        ns: spec.foreach.dataset.format(namespace=ns)
        for template in templates
        for ns in namespaces[template]
    }
    return {**(spec.inputs or {}), **extra}


def _build_nodes(
    specs: Iterable[NodeSpec],
    label: str,
    allowed: Iterable[str],
    namespaces: Mapping[str, list[str]] | None = None,
) -> list[Node]:
    nodes = []
    for spec in specs:
        where = f"{label}: node '{spec.name}'"
        func = _resolve_function(spec.func, where, allowed)
        inputs = _expand_foreach(spec, where, namespaces or {})
        _check_signature(func, inputs, where)
        try:
            nodes.append(
                node(
                    func,
                    inputs,
                    spec.outputs,
                    name=spec.name,
                    tags=spec.tags,
                    namespace=spec.namespace,
                )
            )
        except (ValueError, TypeError) as exc:
            raise PipelineSpecError(f"{where}: {_one_line(exc)}") from exc
    return nodes


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text if len(text) <= 4 * _MAX_QUOTED else f"{text[: 4 * _MAX_QUOTED]}..."


def _build_file(
    stem: str, path: Path, spec: PipelineFile, allowed: Iterable[str]
) -> Pipeline:
    label = _label(path)
    seen: dict[str, str] = {}
    _check_names(spec.nodes, label, seen)
    namespaces: dict[str, list[str]] = {}
    for inst in spec.instances:
        namespaces.setdefault(inst.template, []).extend(inst.namespaces)
    nodes = _build_nodes(spec.nodes, label, allowed, namespaces)
    parts: list[Pipeline] = [Pipeline(nodes)]
    for index, inst in enumerate(spec.instances, start=1):
        where = f"{label}: instance #{index}"
        template = spec.templates.get(inst.template)
        if template is None:
            raise PipelineSpecError(
                f"{where}: unknown template '{inst.template}' "
                f"(expected one of: {', '.join(sorted(spec.templates)) or 'none'})"
            )
        tpl_label = f"{label}: template '{inst.template}'"
        tpl = Pipeline(_build_nodes(template.nodes, tpl_label, allowed))
        for ns in inst.namespaces:
            if not _NAME_RE.match(ns):
                raise PipelineSpecError(f"{where}: namespace '{ns}' must be snake_case")
            _check_names(template.nodes, f"{tpl_label} in '{ns}'", seen, f"{ns}.")
            try:
                parts.append(
                    Pipeline(
                        tpl,
                        namespace=ns,
                        inputs=set(inst.inputs) or None,
                        outputs=set(inst.outputs) or None,
                        parameters={p for p in inst.parameters} or None,
                        tags=inst.tags or None,
                    )
                )
            except (ValueError, TypeError) as exc:
                raise PipelineSpecError(f"{where} '{ns}': {_one_line(exc)}") from exc
    try:
        return sum(parts, Pipeline([]))
    except (ValueError, TypeError) as exc:
        raise PipelineSpecError(f"{label}: {_one_line(exc)}") from exc


def _check_free_inputs(
    labels: Mapping[str, str], pipe: Pipeline, catalog: CatalogNames
) -> None:
    """Every input of ``pipe`` is produced, in the catalog or a parameter.

    A problem names the file that declares the consuming node (``labels``: node
    name -> file), not the file that happens to include it.
    """
    for name in sorted(pipe.inputs()):
        consumer = next(n.name for n in pipe.nodes if name in n.inputs)
        label = labels[consumer]
        if name == "parameters":
            continue
        if name.startswith("params:"):
            key = name.removeprefix("params:")
            if not catalog.has_parameter(key):
                raise PipelineSpecError(
                    f"{label}: node '{consumer}' reads parameter '{key}' "
                    "that no parameters file defines"
                )
        elif not catalog.defines(name):
            raise PipelineSpecError(
                f"{label}: node '{consumer}' consumes dataset '{name}' that no node "
                "produces and the catalog does not define"
            )


def build_pipelines(
    files: Mapping[str, tuple[Path, PipelineFile]],
    catalog: CatalogNames,
    *,
    allowed_prefixes: Iterable[str] = ALLOWED_FUNCTION_PREFIXES,
) -> dict[str, Pipeline]:
    """Build every declared pipeline, plus ``__default__``, after validating them all.

    Raises:
        PipelineSpecError: naming the file and node of the first problem found.
    """
    own = {
        stem: _build_file(stem, path, spec, allowed_prefixes)
        for stem, (path, spec) in files.items()
    }

    def expand(stem: str, trail: tuple[str, ...]) -> Pipeline:
        path, spec = files[stem]
        pipe = own[stem]
        for inc in spec.include:
            if inc not in files:
                raise PipelineSpecError(
                    f"{_label(path)}: include '{inc}' names no pipeline file "
                    f"(expected one of: {', '.join(sorted(files))})"
                )
            if inc in trail:
                cycle = " -> ".join((*trail, inc))
                raise PipelineSpecError(f"{_label(path)}: include cycle {cycle}")
            pipe = expand(inc, (*trail, inc)) + pipe
        return pipe

    pipelines = {stem: expand(stem, (stem,)) for stem in files}
    declared_in = {
        node.name: _label(files[stem][0])
        for stem, pipe in own.items()
        for node in pipe.nodes
    }
    for pipe in pipelines.values():
        _check_free_inputs(declared_in, pipe, catalog)
    default = [pipelines[s] for s, (_, spec) in files.items() if spec.default]
    pipelines["__default__"] = sum(default, Pipeline([]))
    return pipelines
