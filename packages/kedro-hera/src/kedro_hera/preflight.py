"""Pre-flight checks: what would fail on the cluster, found at compile time.

Each check returns one-line problems; :func:`preflight` raises them together.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from kedro_hera.config import resources_problem
from kedro_hera.errors import PreflightError
from kedro_hera.resources import task_pod_settings

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from kedro.pipeline import Pipeline

    from kedro_hera._project import CatalogView
    from kedro_hera.config import ArgoConfig
    from kedro_hera.grouping import TaskPlan

__all__ = [
    "check_datasets",
    "check_group_names",
    "check_node_names",
    "check_resources",
    "preflight",
]


def check_node_names(pipeline_name: str, pipeline: Pipeline) -> list[str]:
    """Every node needs an explicit name: task commands select nodes by name.

    Args:
        pipeline_name: Name of the pipeline.
        pipeline: The pipeline.

    Returns:
        One problem per unnamed node.
    """
    problems = []
    for node in sorted(pipeline.nodes, key=lambda n: n.name):
        if not getattr(node, "_name", None):
            problems.append(
                f"pipeline '{pipeline_name}': node {node.func.__name__}"
                f"({', '.join(node.inputs)}) -> [{', '.join(node.outputs)}] has no "
                "name; give it node(..., name='<verb>_<noun>_node')"
            )
    return problems


def _outside_root(config: Mapping[str, object], data_root: str) -> str | None:
    location = config.get("filepath") or config.get("path")
    if not isinstance(location, str):
        return None
    root = data_root.rstrip("/")
    if location == root or location.startswith(root + "/"):
        return None
    return location


def check_datasets(
    pipeline_name: str,
    plan: TaskPlan,
    catalog: CatalogView,
    *,
    env: str,
    data_root: str | None,
) -> list[str]:
    """Datasets crossing tasks, and pipeline inputs, must be persisted remotely.

    Args:
        pipeline_name: Name of the pipeline.
        plan: The task plan.
        catalog: The env's catalog.
        env: Environment name.
        data_root: Remote root every crossing dataset must live below, if set.

    Returns:
        One problem per offending dataset.
    """
    problems = []
    reported: set[tuple[str, str, str]] = set()
    for edge in plan.edges:
        for name in dict.fromkeys([edge.producer_dataset, edge.dataset]):
            key = (name, edge.producer_task, edge.consumer_task)
            if key in reported:
                continue
            config = catalog.dataset_config(name)
            if not catalog.is_persisted(config):
                state = (
                    "not declared"
                    if config is None
                    else f"a {str(config.get('type')).rsplit('.', 1)[-1]}"
                )
                problems.append(
                    f"pipeline '{pipeline_name}': dataset '{name}' flows from task "
                    f"'{edge.producer_task}' to task '{edge.consumer_task}' but is "
                    f"{state} in the catalog of env '{env}'; "
                    "expected a persisted dataset"
                )
                reported.add(key)
            elif data_root and config is not None:
                location = _outside_root(config, data_root)
                if location is not None:
                    problems.append(
                        f"pipeline '{pipeline_name}': dataset '{name}' flows from task "
                        f"'{edge.producer_task}' to task '{edge.consumer_task}' but "
                        f"its location '{location}' is not below data_root "
                        f"'{data_root}' of env '{env}'"
                    )
                    reported.add(key)
    for name, task in plan.free_inputs.items():
        if not catalog.is_persisted(catalog.dataset_config(name)):
            problems.append(
                f"pipeline '{pipeline_name}': input dataset '{name}' of task '{task}' "
                "is produced by no node and not persisted in the catalog of env "
                f"'{env}'"
            )
    return problems


def check_resources(
    pipeline_name: str, plan: TaskPlan, config: ArgoConfig
) -> list[str]:
    """Effective resources and node selectors of every task must be consistent.

    Args:
        pipeline_name: Name of the pipeline.
        plan: The task plan.
        config: The env's config.

    Returns:
        One problem per inconsistent task.
    """
    problems = []
    for task in plan.tasks:
        settings = task_pod_settings(task, config)
        problem = resources_problem(settings.resources)
        if problem:
            problems.append(
                f"pipeline '{pipeline_name}': task '{task.task_name}' resources "
                f"(groups {list(settings.groups)}): {problem}"
            )
        if settings.conflicts:
            problems.append(
                f"pipeline '{pipeline_name}': task '{task.task_name}' gets different "
                f"node_selector values for {list(settings.conflicts)} from groups "
                f"{list(settings.groups)}"
            )
    return problems


def _tags_and_namespaces(
    pipelines: Iterable[Pipeline], config: ArgoConfig
) -> tuple[set[str], set[str]]:
    tags_and_namespaces: set[str] = set()
    node_names: set[str] = set()
    prefix = config.grouping.tag_prefix
    for pipeline in pipelines:
        for node in pipeline.nodes:
            tags_and_namespaces.update(node.tags)
            if prefix:
                tags_and_namespaces.update(
                    t.removeprefix(prefix) for t in node.tags if t.startswith(prefix)
                )
            if node.namespace:
                parts = node.namespace.split(".")
                tags_and_namespaces.update(
                    ".".join(parts[: i + 1]) for i in range(len(parts))
                )
            node_names.add(node.name)
    return tags_and_namespaces, node_names


def check_group_names(
    pipelines: Iterable[Pipeline], config: ArgoConfig, *, env: str
) -> list[str]:
    """Every ``groups`` entry must name a tag or namespace of some pipeline.

    A node name is accepted too: a node outside namespaces and grouping tags is
    its own group.

    Args:
        pipelines: Every registered pipeline.
        config: The env's config.
        env: Environment name.

    Returns:
        One problem per unknown group.
    """
    known, node_names = _tags_and_namespaces(pipelines, config)
    hint = (
        f"expected one of {sorted(known)[:20]}"
        if known
        else "the pipelines define no tag or namespace"
    )
    return [
        f"argo.yml (env '{env}'): groups.{name} names no tag or namespace of any "
        f"registered pipeline; {hint}"
        for name in sorted(config.groups)
        if name not in known and name not in node_names
    ]


def preflight(problems: Iterable[str]) -> None:
    """Raise every problem found at once.

    Args:
        problems: One-line problems.

    Raises:
        PreflightError: When there is at least one problem.
    """
    found = list(problems)
    if found:
        raise PreflightError(found)
