"""A compiled WorkflowTemplate read into the few objects the harness executes.

Only what a kedro-hera manifest uses is modelled: a DAG entrypoint whose tasks
reference container templates, workflow parameters, input and output parameters
(``valueFrom.path``), plain and secret env vars, and a container ``onExit``
handler. Anything else is rejected with :class:`ManifestError` rather than
silently ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import yaml

from tests.argo_harness.errors import ManifestError

if TYPE_CHECKING:
    from collections.abc import Collection
    from pathlib import Path

__all__ = [
    "Container",
    "DagTask",
    "EnvVar",
    "OutputParameter",
    "WorkflowTemplate",
    "load_workflow_template",
]


@dataclass(frozen=True)
class EnvVar:
    """A container env var: a literal ``value`` or a ``secretKeyRef``."""

    name: str
    value: str | None = None
    secret: tuple[str, str] | None = None


@dataclass(frozen=True)
class OutputParameter:
    """An output parameter read from a file of the container (``valueFrom.path``)."""

    name: str
    path: str
    global_name: str | None = None


@dataclass(frozen=True)
class Container:
    """A container template: what one pod runs."""

    name: str
    command: tuple[str, ...]
    args: tuple[str, ...]
    env: tuple[EnvVar, ...]
    working_dir: str | None
    inputs: dict[str, str | None]
    outputs: tuple[OutputParameter, ...]

    @property
    def argv(self) -> tuple[str, ...]:
        """``command`` followed by ``args``, as the container runtime joins them."""
        return (*self.command, *self.args)


@dataclass(frozen=True)
class DagTask:
    """One task of the entrypoint DAG."""

    name: str
    template: str
    dependencies: tuple[str, ...]
    arguments: dict[str, str]


@dataclass(frozen=True)
class WorkflowTemplate:
    """The executable part of a WorkflowTemplate.

    Attributes:
        name: ``metadata.name``; workflows are named ``<name>-<suffix>``.
        namespace: ``metadata.namespace``.
        annotations: ``metadata.annotations`` (kedro-hera records the image,
            git SHA, env and pipeline there).
        parameters: Declared workflow parameters and their defaults (``None``
            when the manifest gives no value: it must then be overridden).
        tasks: The entrypoint DAG's tasks in execution order (dependencies
            first, ties in manifest order).
        containers: Container templates by name.
        on_exit: Name of the exit-handler template, if any.
        active_deadline_seconds: ``spec.activeDeadlineSeconds``, if set.
    """

    name: str
    namespace: str | None
    annotations: dict[str, str]
    parameters: dict[str, str | None]
    tasks: tuple[DagTask, ...]
    containers: dict[str, Container]
    on_exit: str | None
    active_deadline_seconds: int | None

    def task(self, name: str) -> DagTask:
        """The DAG task called ``name``."""
        for task in self.tasks:
            if task.name == name:
                return task
        msg = f"no task '{name}' in {self.name}; expected one of {self.task_names}"
        raise ManifestError(msg)

    @property
    def task_names(self) -> list[str]:
        """Names of the DAG tasks in execution order."""
        return [task.name for task in self.tasks]

    def upstream(self, name: str) -> set[str]:
        """Names of the tasks ``name`` depends on, transitively."""
        found: set[str] = set()
        stack = list(self.task(name).dependencies)
        while stack:
            current = stack.pop()
            if current not in found:
                found.add(current)
                stack.extend(self.task(current).dependencies)
        return found

    def subset(self, targets: Collection[str] | None) -> list[DagTask]:
        """All tasks, or ``targets`` and their dependencies, in execution order."""
        if targets is None:
            return list(self.tasks)
        wanted = set(targets).union(*(self.upstream(name) for name in targets))
        return [task for task in self.tasks if task.name in wanted]

    def outputs_of(self, names: Collection[str]) -> set[str]:
        """Variables the outputs of tasks ``names`` define, once they ran."""
        variables = set()
        for name in names:
            for out in self.containers[self.task(name).template].outputs:
                variables.add(f"tasks.{name}.outputs.parameters.{out.name}")
                if out.global_name:
                    variables.add(f"workflow.outputs.parameters.{out.global_name}")
        return variables


def _text(value: Any) -> str:
    """An Argo parameter value as the string Argo stores (YAML ints/bools too)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _parameters(items: list[dict[str, Any]] | None, where: str) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for item in items or []:
        if "valueFrom" in item:
            msg = f"{where} parameter '{item['name']}' uses valueFrom; unsupported"
            raise ManifestError(msg)
        found[item["name"]] = item
    return found


def _env(items: list[dict[str, Any]] | None, template: str) -> tuple[EnvVar, ...]:
    env = []
    for item in items or []:
        ref = (item.get("valueFrom") or {}).get("secretKeyRef")
        if "valueFrom" in item and ref is None:
            msg = (
                f"template '{template}': env var '{item['name']}' uses a valueFrom "
                f"other than secretKeyRef: {item['valueFrom']}"
            )
            raise ManifestError(msg)
        env.append(
            EnvVar(
                name=item["name"],
                value=None if ref else _text(item.get("value", "")),
                secret=(ref["name"], ref["key"]) if ref else None,
            )
        )
    return tuple(env)


def _container(template: dict[str, Any]) -> Container:
    name = template["name"]
    spec = template["container"]
    inputs = _parameters((template.get("inputs") or {}).get("parameters"), "inputs")
    outputs = []
    for out in (template.get("outputs") or {}).get("parameters") or []:
        path = (out.get("valueFrom") or {}).get("path")
        if path is None:
            msg = f"template '{name}': output '{out['name']}' has no valueFrom.path"
            raise ManifestError(msg)
        outputs.append(OutputParameter(out["name"], path, out.get("globalName")))
    return Container(
        name=name,
        command=tuple(spec.get("command") or ()),
        args=tuple(spec.get("args") or ()),
        env=_env(spec.get("env"), name),
        working_dir=spec.get("workingDir"),
        inputs={
            key: None if item.get("value") is None else _text(item["value"])
            for key, item in inputs.items()
        },
        outputs=tuple(outputs),
    )


def _execution_order(tasks: list[DagTask], template: str) -> tuple[DagTask, ...]:
    """Kahn's algorithm; among ready tasks the one listed first runs first."""
    names = {task.name for task in tasks}
    for task in tasks:
        unknown = sorted(set(task.dependencies) - names)
        if unknown:
            msg = f"DAG '{template}': task '{task.name}' depends on unknown {unknown}"
            raise ManifestError(msg)
    done: list[DagTask] = []
    pending = list(tasks)
    while pending:
        finished = {task.name for task in done}
        ready = [t for t in pending if set(t.dependencies) <= finished]
        if not ready:
            msg = f"DAG '{template}' has a cycle among {[t.name for t in pending]}"
            raise ManifestError(msg)
        done.append(ready[0])
        pending.remove(ready[0])
    return tuple(done)


_TASK_KEYS = {"name", "template", "dependencies", "arguments"}


def _check_supported(
    path: Path, entry: dict[str, Any], templates: dict[str, dict[str, Any]]
) -> None:
    """Refuse what the harness would otherwise silently ignore or get wrong."""
    problems = []
    if entry["dag"].get("failFast") is False:
        problems.append("dag.failFast: false")
    for task in entry["dag"]["tasks"]:
        extra = sorted(set(task) - _TASK_KEYS)
        if extra:
            problems.append(f"task '{task['name']}' uses {extra}")
    for name, template in templates.items():
        for side in ("inputs", "outputs"):
            if (template.get(side) or {}).get("artifacts"):
                problems.append(f"template '{name}' has {side}.artifacts")
    if problems:
        msg = f"{path}: unsupported by the harness: {'; '.join(problems)}"
        raise ManifestError(msg)


def load_workflow_template(path: Path) -> WorkflowTemplate:
    """Read a compiled WorkflowTemplate.

    Args:
        path: The manifest, e.g. ``argo/staging/training.yaml``.

    Returns:
        The executable template.

    Raises:
        ManifestError: When the manifest is not a WorkflowTemplate whose
            entrypoint is a DAG of container tasks.
    """
    doc = yaml.safe_load(path.read_text(encoding="utf-8"))
    kind = doc.get("kind") if isinstance(doc, dict) else type(doc).__name__
    if kind != "WorkflowTemplate":
        msg = f"{path}: expected kind WorkflowTemplate, got {kind!r}"
        raise ManifestError(msg)
    spec = doc["spec"]
    templates = {t["name"]: t for t in spec["templates"]}
    entry = templates.get(spec.get("entrypoint", ""))
    if entry is None or "dag" not in entry:
        msg = f"{path}: entrypoint {spec.get('entrypoint')!r} is not a DAG template"
        raise ManifestError(msg)
    unsupported = sorted(
        name for name, t in templates.items() if t is not entry and "container" not in t
    )
    if unsupported:
        msg = f"{path}: templates {unsupported} are not containers; unsupported"
        raise ManifestError(msg)
    _check_supported(path, entry, templates)
    tasks = [
        DagTask(
            name=task["name"],
            template=task["template"],
            dependencies=tuple(task.get("dependencies") or ()),
            arguments={
                key: _text(item.get("value", ""))
                for key, item in _parameters(
                    (task.get("arguments") or {}).get("parameters"), "arguments"
                ).items()
            },
        )
        for task in entry["dag"]["tasks"]
    ]
    for task in tasks:
        if task.template not in templates or task.template == entry["name"]:
            msg = f"{path}: task '{task.name}' names unknown template {task.template!r}"
            raise ManifestError(msg)
    declared = (spec.get("arguments") or {}).get("parameters") or []
    return WorkflowTemplate(
        name=doc["metadata"]["name"],
        namespace=doc["metadata"].get("namespace"),
        annotations=dict(doc["metadata"].get("annotations") or {}),
        parameters={
            p["name"]: None if p.get("value") is None else _text(p["value"])
            for p in declared
        },
        tasks=_execution_order(tasks, entry["name"]),
        containers={
            name: _container(t) for name, t in templates.items() if "container" in t
        },
        on_exit=spec.get("onExit"),
        active_deadline_seconds=spec.get("activeDeadlineSeconds"),
    )
