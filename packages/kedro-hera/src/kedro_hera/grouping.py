"""Grouping of Kedro nodes into Argo DAG tasks.

Nodes are first grouped with ``Pipeline.group_nodes_by("namespace")`` (one group
per top-level namespace, one per node outside namespaces). Tags then regroup
explicitly: a node holding a tag listed in ``grouping.group_by_tags``, or a tag
``<grouping.tag_prefix><name>``, moves to the group named after that tag. Task
dependencies come from the datasets flowing between groups.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Literal

from kedro_hera._names import unique_dns_labels
from kedro_hera.errors import GroupingError

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping

    from kedro.pipeline import Pipeline
    from kedro.pipeline.node import Node

    from kedro_hera.config import GroupingConfig

__all__ = [
    "DatasetEdge",
    "TaskGroup",
    "TaskPlan",
    "group_pipeline",
    "strip_transcoding",
]

GroupKind = Literal["namespace", "tag", "node"]


def strip_transcoding(name: str) -> str:
    """Return a dataset name without its transcoding suffix (``a@pandas`` -> ``a``).

    Args:
        name: Dataset name as written in a node.

    Returns:
        The name before '@'.
    """
    return name.split("@", 1)[0]


@dataclass(frozen=True)
class TaskGroup:
    """Nodes that run in one Argo task (one pod).

    Attributes:
        key: The group's name: a top-level namespace, a grouping tag or a node name.
        kind: What ``key`` is.
        task_name: DNS-1123 name of the Argo task and template.
        nodes: Node names, sorted.
        dependencies: Task names this task waits for, sorted.
        tags: Union of the nodes' tags.
        namespaces: Every namespace (and parent namespace) of the nodes.
        whole_namespace: The group is exactly the nodes of namespace ``key``, so
            ``kedro run --namespaces key`` selects it.
    """

    key: str
    kind: GroupKind
    task_name: str
    nodes: tuple[str, ...]
    dependencies: tuple[str, ...]
    tags: frozenset[str]
    namespaces: frozenset[str]
    whole_namespace: bool


@dataclass(frozen=True)
class DatasetEdge:
    """A dataset written by one task and read by another.

    Attributes:
        dataset: The dataset name as the consuming node reads it.
        producer_dataset: The dataset name as the producing node writes it.
        producer_task: Task name of the producer.
        consumer_task: Task name of the consumer.
    """

    dataset: str
    producer_dataset: str
    producer_task: str
    consumer_task: str


@dataclass(frozen=True)
class TaskPlan:
    """A pipeline split into tasks.

    Attributes:
        tasks: Tasks in topological order (ties broken by name).
        node_task: Task name of every node.
        edges: Datasets crossing task boundaries, sorted.
        free_inputs: Datasets read by a task but produced by no node, with the
            first task reading them.
    """

    tasks: tuple[TaskGroup, ...]
    node_task: Mapping[str, str]
    edges: tuple[DatasetEdge, ...] = ()
    free_inputs: Mapping[str, str] = field(default_factory=dict)

    def task(self, task_name: str) -> TaskGroup:
        """Return the task with this name.

        Args:
            task_name: Name of the task.

        Returns:
            The task.

        Raises:
            KeyError: When no task has that name.
        """
        for task in self.tasks:
            if task.task_name == task_name:
                return task
        raise KeyError(task_name)


def _namespace_prefixes(namespace: str | None) -> set[str]:
    if not namespace:
        return set()
    parts = namespace.split(".")
    return {".".join(parts[: i + 1]) for i in range(len(parts))}


def _tag_group(node: Node, grouping: GroupingConfig) -> str | None:
    groups = {tag for tag in node.tags if tag in grouping.group_by_tags}
    if grouping.tag_prefix:
        groups |= {
            tag.removeprefix(grouping.tag_prefix)
            for tag in node.tags
            if tag.startswith(grouping.tag_prefix) and tag != grouping.tag_prefix
        }
    if len(groups) > 1:
        msg = (
            f"node '{node.name}' has tags for several task groups {sorted(groups)}; "
            "expected at most one"
        )
        raise GroupingError(msg)
    return next(iter(groups), None)


def _find_cycle(parents: Mapping[str, set[str]]) -> list[str]:
    """Walk parents from the smallest task left; every task left has one left."""
    current = min(parents)
    path: list[str] = [current]
    while True:
        current = min(parent for parent in parents[current] if parent in parents)
        if current in path:
            cycle = [*path[path.index(current) :], current]
            return cycle[::-1]
        path.append(current)


def _topological(
    task_names: Iterable[str], parents: Mapping[str, set[str]]
) -> list[str]:
    pending = {name: set(parents[name]) for name in task_names}
    children: dict[str, set[str]] = {name: set() for name in pending}
    for name, deps in pending.items():
        for dep in deps:
            children[dep].add(name)
    order: list[str] = []
    ready = sorted(name for name, deps in pending.items() if not deps)
    while ready:
        name = ready.pop(0)
        order.append(name)
        for child in sorted(children[name]):
            pending[child].discard(name)
            if not pending[child]:
                ready.append(child)
        ready.sort()
        pending.pop(name)
    if pending:
        cycle = _find_cycle(pending)
        msg = (
            f"grouping creates a cycle between tasks {' -> '.join(cycle)}; "
            "expected an acyclic flow of datasets between groups (regroup the nodes "
            "with grouping tags)"
        )
        raise GroupingError(msg)
    return order


def _flow(
    pipeline: Pipeline, node_task: Mapping[str, str]
) -> tuple[dict[str, set[str]], set[DatasetEdge], dict[str, str]]:
    """Find task dependencies, crossing datasets and free inputs."""
    producers: dict[str, tuple[str, str]] = {}
    for node in pipeline.nodes:
        for output in node.outputs:
            producers[strip_transcoding(output)] = (node.name, output)
    parents: dict[str, set[str]] = {task: set() for task in node_task.values()}
    edges: set[DatasetEdge] = set()
    free_inputs: dict[str, str] = {}
    for node in sorted(pipeline.nodes, key=lambda n: n.name):
        consumer_task = node_task[node.name]
        for dataset in node.inputs:
            if dataset == "parameters" or dataset.startswith("params:"):
                continue
            producer = producers.get(strip_transcoding(dataset))
            if producer is None:
                free_inputs.setdefault(dataset, consumer_task)
                continue
            producer_task = node_task[producer[0]]
            if producer_task != consumer_task:
                parents[consumer_task].add(producer_task)
                edges.add(
                    DatasetEdge(dataset, producer[1], producer_task, consumer_task)
                )
    return parents, edges, free_inputs


def group_pipeline(
    pipeline: Pipeline,
    grouping: GroupingConfig,
    *,
    reserved_names: Iterable[str] = (),
) -> TaskPlan:
    """Group the nodes of a pipeline into Argo tasks.

    Args:
        pipeline: The Kedro pipeline.
        grouping: Grouping options from ``argo.yml``.
        reserved_names: Task names used by kedro-hera itself (e.g. ``init-run``).

    Returns:
        The task plan.

    Raises:
        GroupingError: When a node has several grouping tags or groups form a cycle.
    """
    strategy = "namespace" if grouping.by_namespace else None
    base_group: dict[str, tuple[GroupKind, str]] = {}
    for grouped in pipeline.group_nodes_by(strategy):
        kind: GroupKind = "namespace" if grouped.type == "namespace" else "node"
        for node_name in grouped.nodes:
            base_group[node_name] = (kind, grouped.name)

    members: dict[tuple[GroupKind, str], list[Node]] = {}
    for node in pipeline.nodes:
        tag = _tag_group(node, grouping)
        group: tuple[GroupKind, str] = (
            ("tag", tag) if tag is not None else base_group[node.name]
        )
        members.setdefault(group, []).append(node)

    label_source = {group: f"{group[1]}" for group in members}
    texts = {group: f"{group[0]}:{group[1]}" for group in members}
    # Same key in two kinds (a tag named like a namespace) must not collide.
    plain = [label_source[g] for g in members]
    collide = {key for key in plain if plain.count(key) > 1}
    sources = {
        g: texts[g] if label_source[g] in collide else label_source[g] for g in members
    }
    labels = unique_dns_labels(sources.values(), reserved=reserved_names)
    task_of_group = {group: labels[sources[group]] for group in members}

    node_task = {
        node.name: task_of_group[group]
        for group, nodes in members.items()
        for node in nodes
    }
    parents, edges, free_inputs = _flow(pipeline, node_task)
    order = _topological(list(parents), parents)
    namespace_sizes: dict[str, int] = {}
    for node in pipeline.nodes:
        if node.namespace:
            top = node.namespace.split(".")[0]
            namespace_sizes[top] = namespace_sizes.get(top, 0) + 1

    by_task = {task_of_group[group]: (group, nodes) for group, nodes in members.items()}
    tasks = []
    for task_name in order:
        (kind, key), nodes = by_task[task_name]
        tasks.append(
            TaskGroup(
                key=key,
                kind=kind,
                task_name=task_name,
                nodes=tuple(sorted(node.name for node in nodes)),
                dependencies=tuple(sorted(parents[task_name])),
                tags=frozenset(tag for node in nodes for tag in node.tags),
                namespaces=frozenset(
                    prefix
                    for node in nodes
                    for prefix in _namespace_prefixes(node.namespace)
                ),
                whole_namespace=kind == "namespace"
                and namespace_sizes.get(key) == len(nodes),
            )
        )
    return TaskPlan(
        tasks=tuple(tasks),
        node_task=dict(sorted(node_task.items())),
        edges=tuple(
            sorted(edges, key=lambda e: (e.dataset, e.producer_task, e.consumer_task))
        ),
        free_inputs=dict(sorted(free_inputs.items())),
    )
