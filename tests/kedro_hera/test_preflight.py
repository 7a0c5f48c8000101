"""Pre-flight: what would fail on the cluster is caught at compile time."""

from __future__ import annotations

import re

import pytest
from kedro.pipeline import node, pipeline

from kedro_hera._project import CatalogView
from kedro_hera.compile import compile_project
from kedro_hera.config import GroupingConfig
from kedro_hera.errors import ConfigError, PreflightError
from kedro_hera.grouping import group_pipeline
from kedro_hera.preflight import check_datasets, check_node_names

from .conftest import FIXED_SHA, LEAKY


def _identity(x: object) -> object:
    return x


def test_unpersisted_intermediate_crossing_tasks_fails_compilation() -> None:
    # GIVEN an env whose catalog keeps 'features' in memory
    # WHEN compiling THEN the dataset and both tasks are named
    with pytest.raises(
        PreflightError,
        match=re.escape(
            "pipeline 'leaky': dataset 'features' flows from task "
            "'build-features-node' to task 'train-model-node' but is a MemoryDataset "
            "in the catalog of env 'dev'; expected a persisted dataset"
        ),
    ):
        compile_project(LEAKY, envs=["dev"], sha=FIXED_SHA)


def test_undeclared_intermediate_and_unnamed_node_are_reported_together() -> None:
    with pytest.raises(PreflightError) as info:
        compile_project(LEAKY, envs=["base"], sha=FIXED_SHA)
    problems = info.value.problems
    assert (
        "pipeline 'leaky': dataset 'features' flows from task 'build-features-node' "
        "to task 'train-model-node' but is not declared in the catalog of env 'base'; "
        "expected a persisted dataset"
    ) in problems
    assert (
        "pipeline 'unnamed': node count_events(raw_events) -> [event_count] has no "
        "name; give it node(..., name='<verb>_<noun>_node')"
    ) in problems
    assert "\n" not in str(info.value)


def test_unknown_group_and_limit_below_request_fail_compilation() -> None:
    with pytest.raises(PreflightError) as info:
        compile_project(LEAKY, envs=["typo"], sha=FIXED_SHA)
    assert info.value.problems == [
        "argo.yml (env 'typo'): groups.trainn names no tag or namespace of any "
        "registered pipeline; the pipelines define no tag or namespace",
        "pipeline 'leaky': task 'train-model-node' resources (groups "
        "['train_model_node']): limits.memory '2Gi' is below requests.memory '8Gi' "
        "(a limit must be at least its request)",
    ]


def test_unknown_env_is_a_config_error() -> None:
    with pytest.raises(
        ConfigError, match=re.escape("environment 'qa' does not exist in")
    ):
        compile_project(LEAKY, envs=["qa"], sha=FIXED_SHA)


def test_factory_patterns_are_resolved_before_judging_persistence() -> None:
    # GIVEN a pattern that persists every '*_table' dataset and a catch-all in memory
    catalog = CatalogView(
        {
            "{name}_table": {
                "type": "pandas.ParquetDataset",
                "filepath": "s3://b/{name}.pq",
            },
            "{default}": {"type": "MemoryDataset"},
            "_anchor": {"type": "ignored"},
        }
    )
    p = pipeline(
        [
            node(_identity, "raw_table", "clean_table", name="a_node"),
            node(_identity, "clean_table", "scratch", name="b_node"),
            node(_identity, "scratch", "out_table", name="c_node"),
        ]
    )
    plan = group_pipeline(p, GroupingConfig())
    problems = check_datasets("p", plan, catalog, env="prod", data_root="s3://b")
    assert problems == [
        "pipeline 'p': dataset 'scratch' flows from task 'b-node' to task 'c-node' "
        "but is a MemoryDataset in the catalog of env 'prod'; expected a persisted "
        "dataset"
    ]


def test_crossing_dataset_outside_data_root_is_reported() -> None:
    catalog = CatalogView(
        {
            "raw": {"type": "json.JSONDataset", "filepath": "s3://bucket/raw.json"},
            "mid": {"type": "json.JSONDataset", "filepath": "data/mid.json"},
        }
    )
    p = pipeline(
        [
            node(_identity, "raw", "mid", name="a_node"),
            node(_identity, "mid", "out", name="b_node"),
        ]
    )
    problems = check_datasets(
        "p",
        group_pipeline(p, GroupingConfig()),
        catalog,
        env="prod",
        data_root="s3://bucket/",
    )
    assert problems == [
        "pipeline 'p': dataset 'mid' flows from task 'a-node' to task 'b-node' but its "
        "location 'data/mid.json' is not below data_root 's3://bucket/' of env 'prod'"
    ]


def test_memory_free_input_is_reported() -> None:
    p = pipeline([node(_identity, "nowhere", "out", name="a_node")])
    problems = check_datasets(
        "p",
        group_pipeline(p, GroupingConfig()),
        CatalogView({}),
        env="prod",
        data_root=None,
    )
    assert problems == [
        "pipeline 'p': input dataset 'nowhere' of task 'a-node' is produced by no node "
        "and not persisted in the catalog of env 'prod'"
    ]


def test_named_nodes_pass_the_name_check() -> None:
    p = pipeline([node(_identity, "a", "b", name="copy_node")])
    assert check_node_names("p", p) == []


def test_cached_dataset_persistence_follows_the_wrapped_dataset() -> None:
    assert CatalogView.is_persisted(
        {"type": "CachedDataset", "dataset": {"type": "json.JSONDataset"}}
    )
    assert not CatalogView.is_persisted(
        {"type": "CachedDataset", "dataset": "MemoryDataset"}
    )
    assert not CatalogView.is_persisted({"type": "kedro.io.SharedMemoryDataset"})
