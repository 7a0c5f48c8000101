"""Argo's ``{{...}}`` template variables, substituted as the controller does.

Argo replaces simple tags (``{{workflow.parameters.seed}}``, spaces inside the
braces allowed) with their string values before a pod starts; a tag naming no
variable in scope makes Argo reject the workflow, and so does a workflow
parameter with neither a default nor a value at submission. Expression tags
(``{{=...}}``) are not supported by the harness and are reported as such.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from tests.argo_harness.errors import HarnessError, UnresolvedVariableError

if TYPE_CHECKING:
    from collections.abc import Collection, Mapping

    from tests.argo_harness.manifest import Container, DagTask, WorkflowTemplate

__all__ = [
    "input_scope",
    "resolve_workflow_parameters",
    "substitute",
    "validate_exit_handler",
    "validate_references",
    "workflow_scope",
]

_TAG = re.compile(r"\{\{\s*(.*?)\s*\}\}")


def substitute(text: str, scope: Mapping[str, str], *, where: str) -> str:
    """Replace every ``{{name}}`` of ``text`` with ``scope[name]``.

    Args:
        text: A command argument, env value or task argument.
        scope: Variables in scope, by their full dotted name.
        where: What is being substituted, for the error message.

    Returns:
        The substituted text (values are inserted verbatim, newlines included).

    Raises:
        UnresolvedVariableError: When a tag names no variable in scope.
    """

    def replace(match: re.Match[str]) -> str:
        name = match.group(1)
        if name.startswith("="):
            msg = f"{where}: expression tag '{match.group(0)}' is unsupported"
            raise UnresolvedVariableError(msg)
        if name not in scope:
            msg = (
                f"{where}: failed to resolve '{match.group(0)}'; in scope: "
                f"{sorted(scope)}"
            )
            raise UnresolvedVariableError(msg)
        return scope[name]

    return _TAG.sub(replace, text)


def resolve_workflow_parameters(
    declared: Mapping[str, str | None], overrides: Mapping[str, str]
) -> dict[str, str]:
    """Workflow parameter values: the overrides over the template's defaults.

    Args:
        declared: ``spec.arguments.parameters`` of the template (name -> default).
        overrides: Values given at submission (``argo submit -p name=value``).

    Returns:
        Every parameter's value.

    Raises:
        HarnessError: When an override names no declared parameter (stricter
            than Argo, which would carry it unused), or a parameter has no value.
    """
    unknown = sorted(set(overrides) - set(declared))
    if unknown:
        msg = (
            f"parameters {unknown} are not declared by the template; expected "
            f"some of {sorted(declared)}"
        )
        raise HarnessError(msg)
    values = {**declared, **overrides}
    missing = sorted(name for name, value in values.items() if value is None)
    if missing:
        msg = f"spec.arguments.parameters {missing}: value is required"
        raise HarnessError(msg)
    return {name: str(value) for name, value in values.items()}


def workflow_scope(
    *, name: str, namespace: str | None, parameters: Mapping[str, str]
) -> dict[str, str]:
    """The ``workflow.*`` variables every template may reference.

    Args:
        name: The workflow's name (``{{workflow.name}}``).
        namespace: Its namespace.
        parameters: Resolved workflow parameters.

    Returns:
        Variables by full dotted name.
    """
    scope = {"workflow.name": name, "workflow.namespace": namespace or "default"}
    scope.update({f"workflow.parameters.{k}": v for k, v in parameters.items()})
    return scope


def input_scope(
    where: str, container: Container, arguments: Mapping[str, str]
) -> dict[str, str]:
    """The ``inputs.parameters.*`` of a pod: task arguments, else input defaults.

    Args:
        where: The task, for the error message.
        container: The template the task runs.
        arguments: The task's (substituted) arguments.

    Returns:
        Variables by full dotted name.

    Raises:
        UnresolvedVariableError: When an input has neither argument nor default.
    """
    values = {}
    for name, default in container.inputs.items():
        value = arguments.get(name, default)
        if value is None:
            msg = f"{where}: inputs.parameters.{name} was not supplied"
            raise UnresolvedVariableError(msg)
        values[f"inputs.parameters.{name}"] = value
    return values


def validate_references(
    template: WorkflowTemplate, tasks: Collection[DagTask], scope: Mapping[str, str]
) -> None:
    """Check every ``{{...}}`` of ``tasks`` before any pod starts, as Argo does.

    A task's arguments may read the outputs of its transitive dependencies only.

    Args:
        template: The template.
        tasks: The tasks to run.
        scope: Workflow-level variables.

    Raises:
        UnresolvedVariableError: Naming the task and the unresolved reference.
    """
    for task in tasks:
        visible = template.outputs_of(template.upstream(task.name))
        dag_scope = {**scope, **dict.fromkeys(visible, "")}
        where = f"task '{task.name}'"
        arguments = {
            key: substitute(value, dag_scope, where=f"{where} argument '{key}'")
            for key, value in task.arguments.items()
        }
        container = template.containers[task.template]
        pod_scope = {
            **scope,
            **{k: "" for k in visible if k.startswith("workflow.")},
            **input_scope(where, container, arguments),
        }
        for text in (*container.argv, *(var.value or "" for var in container.env)):
            substitute(text, pod_scope, where=where)


def validate_exit_handler(template: WorkflowTemplate, scope: Mapping[str, str]) -> None:
    """Check the ``onExit`` template's references; it also sees the status.

    Args:
        template: The template (``on_exit`` set).
        scope: Workflow-level variables.

    Raises:
        UnresolvedVariableError: Naming the exit handler and the reference.
    """
    if template.on_exit is None:
        return
    produced = template.outputs_of(template.task_names)
    exit_scope = {
        **scope,
        **{k: "" for k in produced if k.startswith("workflow.")},
        "workflow.status": "",
    }
    container = template.containers[template.on_exit]
    where = f"task '{template.on_exit}'"
    for text in (*container.argv, *(var.value or "" for var in container.env)):
        substitute(text, exit_scope, where=where)
