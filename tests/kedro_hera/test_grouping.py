"""Grouping of Kedro nodes into Argo tasks."""

from __future__ import annotations

import re

import pytest
from kedro.pipeline import Pipeline, node, pipeline

from kedro_hera._names import is_dns_label
from kedro_hera.config import GroupingConfig
from kedro_hera.errors import GroupingError
from kedro_hera.grouping import group_pipeline


def _identity(x: object) -> object:
    return x


def _two(x: object, y: object) -> object:
    return x


def _chain(namespace: str) -> Pipeline:
    return pipeline(
        [
            node(_identity, "start", "middle", name="first_node"),
            node(_identity, "middle", "end", name="second_node"),
        ],
        namespace=namespace,
        inputs={"start"},
    )


def test_namespaces_become_one_task_each_and_cut_the_pod_count() -> None:
    # GIVEN two namespaced chains feeding a final node
    full = (
        _chain("model_a")
        + _chain("model_b")
        + pipeline(
            [node(_two, ["model_a.end", "model_b.end"], "best", name="pick_node")]
        )
    )
    # WHEN grouped by namespace
    plan = group_pipeline(full, GroupingConfig())
    # THEN 5 nodes run in 3 tasks, wired by the datasets they exchange
    assert len(full.nodes) == 5
    assert [t.task_name for t in plan.tasks] == ["model-a", "model-b", "pick-node"]
    assert plan.task("pick-node").dependencies == ("model-a", "model-b")
    assert plan.task("model-a").nodes == ("model_a.first_node", "model_a.second_node")
    assert plan.task("model-a").whole_namespace
    assert {(e.dataset, e.producer_task, e.consumer_task) for e in plan.edges} == {
        ("model_a.end", "model-a", "pick-node"),
        ("model_b.end", "model-b", "pick-node"),
    }
    assert plan.free_inputs == {"start": "model-a"}


def test_without_namespace_grouping_every_node_is_a_task() -> None:
    plan = group_pipeline(_chain("ns"), GroupingConfig(by_namespace=False))
    assert [t.task_name for t in plan.tasks] == ["ns-first-node", "ns-second-node"]
    assert plan.task("ns-second-node").dependencies == ("ns-first-node",)


def test_tags_regroup_nodes_explicitly() -> None:
    # GIVEN nodes tagged for grouping, by name and by prefix
    p = pipeline(
        [
            node(_identity, "a", "b", name="load_node", tags=["etl"]),
            node(_identity, "b", "c", name="clean_node", tags=["etl"]),
            node(_identity, "c", "d", name="fit_node", tags=["argo.train"]),
            node(_identity, "d", "e", name="score_node", tags=["argo.train"]),
            node(_identity, "e", "f", name="report_node"),
        ]
    )
    grouping = GroupingConfig(group_by_tags=["etl"], tag_prefix="argo.")
    # WHEN grouped THEN tags form tasks
    plan = group_pipeline(p, grouping)
    assert [(t.task_name, t.kind, t.nodes) for t in plan.tasks] == [
        ("etl", "tag", ("clean_node", "load_node")),
        ("train", "tag", ("fit_node", "score_node")),
        ("report-node", "node", ("report_node",)),
    ]
    assert not plan.task("etl").whole_namespace


def test_a_node_with_two_group_tags_is_an_error() -> None:
    p = pipeline([node(_identity, "a", "b", name="n", tags=["x", "y"])])
    with pytest.raises(
        GroupingError,
        match=re.escape(
            "node 'n' has tags for several task groups ['x', 'y']; expected at most one"
        ),
    ):
        group_pipeline(p, GroupingConfig(group_by_tags=["x", "y"]))


def test_a_cycle_between_groups_is_an_error() -> None:
    # GIVEN a namespace whose data leaves it and comes back
    p = pipeline(
        [
            node(_identity, "a", "b", name="out_node", namespace="ns"),
            node(_identity, "b", "c", name="outside_node"),
            node(_identity, "c", "d", name="back_node", namespace="ns"),
        ]
    )
    with pytest.raises(
        GroupingError,
        match=re.escape(
            "grouping creates a cycle between tasks ns -> outside-node -> ns"
        ),
    ):
        group_pipeline(p, GroupingConfig())


def test_task_names_are_dns_labels_unique_and_deterministic() -> None:
    p = pipeline(
        [
            node(_identity, "a", "b", name="data_prep"),
            node(_identity, "b", "c", name="data-prep"),
            node(_identity, "c", "d", name="main"),
            node(_identity, "d", "e", name="x" * 80),
        ]
    )
    first = group_pipeline(p, GroupingConfig(), reserved_names=["main"])
    second = group_pipeline(p, GroupingConfig(), reserved_names=["main"])
    names = [t.task_name for t in first.tasks]
    assert names == [t.task_name for t in second.tasks]
    assert len(set(names)) == 4
    assert all(is_dns_label(name) for name in names)
    assert "main" not in names


def test_transcoded_datasets_link_tasks() -> None:
    p = pipeline(
        [
            node(_identity, "a", "table@pandas", name="write_node"),
            node(_identity, "table@spark", "c", name="read_node"),
        ]
    )
    plan = group_pipeline(p, GroupingConfig())
    assert plan.task("read-node").dependencies == ("write-node",)
    (edge,) = plan.edges
    assert (edge.producer_dataset, edge.dataset) == ("table@pandas", "table@spark")
