"""Per-task pod settings: resources, node selector and tolerations from ``groups``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from kedro_hera._quantity import parse_cpu, parse_memory
from kedro_hera.config import Quantities, ResourcesConfig, TolerationConfig

if TYPE_CHECKING:
    from collections.abc import Callable
    from decimal import Decimal

    from kedro_hera.config import ArgoConfig
    from kedro_hera.grouping import TaskGroup

__all__ = ["TaskPodSettings", "matching_groups", "task_pod_settings"]


@dataclass(frozen=True)
class TaskPodSettings:
    """Pod settings of one task.

    Attributes:
        resources: Effective requests and limits.
        node_selector: Template-level node selector (None: the workflow's applies).
        tolerations: Template-level tolerations (None: the workflow's apply).
        conflicts: Node-selector keys that matching groups set differently.
        groups: Names of the ``groups`` entries that matched.
    """

    resources: ResourcesConfig
    node_selector: dict[str, str] | None
    tolerations: tuple[TolerationConfig, ...] | None
    conflicts: tuple[str, ...]
    groups: tuple[str, ...]


def matching_groups(task: TaskGroup, config: ArgoConfig) -> list[str]:
    """Return the ``groups`` entries that apply to a task, sorted.

    Args:
        task: The task.
        config: The env's config.

    Returns:
        Names of the groups whose key is the task's group, one of its nodes'
        tags, or one of its nodes' namespaces.
    """
    return sorted(
        key
        for key in config.groups
        if key == task.key or key in task.tags or key in task.namespaces
    )


def _largest(values: list[str], parse: Callable[[str], Decimal | None]) -> str | None:
    parsed = [(parse(value), value) for value in values]
    valid = [(number, value) for number, value in parsed if number is not None]
    if not valid:
        return None
    return max(valid, key=lambda item: (item[0], item[1]))[1]


def _merge_quantities(default: Quantities, overrides: list[Quantities]) -> Quantities:
    cpus = [q.cpu for q in overrides if q.cpu is not None]
    memories = [q.memory for q in overrides if q.memory is not None]
    return Quantities(
        cpu=_largest(cpus, parse_cpu) if cpus else default.cpu,
        memory=_largest(memories, parse_memory) if memories else default.memory,
    )


def task_pod_settings(task: TaskGroup, config: ArgoConfig) -> TaskPodSettings:
    """Compute the pod settings of a task.

    Each resource a matching group sets replaces the default; when several matching
    groups set the same resource, the largest wins (order-independent).

    Args:
        task: The task.
        config: The env's config.

    Returns:
        The task's pod settings. Limits may end up below requests; the pre-flight
        reports that.
    """
    names = matching_groups(task, config)
    groups = [config.groups[name] for name in names]
    with_resources = [g.resources for g in groups if g.resources is not None]
    resources = config.resources
    if with_resources:
        resources = ResourcesConfig.model_construct(
            requests=_merge_quantities(
                config.resources.requests, [r.requests for r in with_resources]
            ),
            limits=_merge_quantities(
                config.resources.limits, [r.limits for r in with_resources]
            ),
        )
    selector: dict[str, str] | None = None
    conflicts: set[str] = set()
    if any(g.node_selector for g in groups):
        selector = dict(config.node_selector)
        seen: dict[str, str] = {}
        for group in groups:
            for key, value in group.node_selector.items():
                if key in seen and seen[key] != value:
                    conflicts.add(key)
                seen[key] = value
        selector.update(seen)
    tolerations: tuple[TolerationConfig, ...] | None = None
    if any(g.tolerations for g in groups):
        merged = list(config.tolerations)
        for group in groups:
            merged.extend(t for t in group.tolerations if t not in merged)
        tolerations = tuple(merged)
    return TaskPodSettings(
        resources=resources,
        node_selector=dict(sorted(selector.items())) if selector is not None else None,
        tolerations=tolerations,
        conflicts=tuple(sorted(conflicts)),
        groups=tuple(names),
    )
