"""Compilation stays fast: ~50 nodes, several pipelines and envs in one process."""

from __future__ import annotations

import time
from pathlib import Path

from kedro.pipeline import Pipeline, node, pipeline

from kedro_hera._project import CatalogView, EnvSnapshot, ProjectSnapshot
from kedro_hera.compile import compile_env
from kedro_hera.config import parse_config

from .conftest import FIXED_SHA


def _step(x: object, factor: float) -> object:
    return x


def _candidate(name: str) -> Pipeline:
    return pipeline(
        [
            node(_step, ["features", "params:factor"], f"fit_{i}", name=f"fit_{i}_node")
            if i == 0
            else node(
                _step,
                [f"fit_{i - 1}", "params:factor"],
                f"fit_{i}",
                name=f"fit_{i}_node",
            )
            for i in range(8)
        ],
        namespace=name,
        inputs={"features"},
        parameters={"params:factor": f"params:{name}.factor"},
    )


def _project() -> ProjectSnapshot:
    names = [f"model_{i}" for i in range(6)]
    prep = pipeline([node(_step, ["raw", "params:seed"], "features", name="prep_node")])
    models = sum((_candidate(name) for name in names), start=pipeline([]))
    report = pipeline(
        [
            node(
                lambda *xs: xs,
                [f"{n}.fit_7" for n in names],
                "report",
                name="report_node",
            )
        ]
    )
    full = prep + models + report
    return ProjectSnapshot(
        path=Path("/nonexistent"),
        package_name="perf",
        conf_source=Path("/nonexistent/conf"),
        base_env="base",
        pipelines={"__default__": full, "models": models, "prep": prep},
    )


def _env(name: str, nodes: Pipeline) -> EnvSnapshot:
    catalog = {
        "{anything}": {"type": "json.JSONDataset", "filepath": "s3://b/{anything}"}
    }
    params = {"seed": 1, **{f"model_{i}": {"factor": 0.5 + i} for i in range(6)}}
    config = parse_config(
        {"image": {"repository": "r", "tag": "t"}, "namespace": name}, source=name
    )
    return EnvSnapshot(
        env=name,
        config=config,
        parameters=params,
        parameter_comments={},
        catalog=CatalogView(catalog),
        experiment_name="perf",
    )


def test_fifty_nodes_three_envs_compile_well_under_five_seconds() -> None:
    project = _project()
    full = project.pipelines["__default__"]
    assert len(full.nodes) == 50
    started = time.perf_counter()
    results = [
        compile_env(project, _env(env, full), sha=FIXED_SHA)
        for env in ("dev", "staging", "prod")
    ]
    elapsed = time.perf_counter() - started
    assert elapsed < 5, elapsed
    reports = {r.pipeline: (r.nodes, r.tasks) for r in results[0].reports}
    assert reports == {"__default__": (50, 8), "models": (48, 6), "prep": (1, 1)}
