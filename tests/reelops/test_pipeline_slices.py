"""The training pipeline's wiring, in process, on small synthetic ratings.

The real pipeline (pipelines/*.yml through the registry) and the real parameters
(conf/, every hyperparameter as committed) run from ``ratings_for_training`` to the
comparison report with Kedro's ``SequentialRunner`` on an in-memory catalog: the
split, every candidate namespace, the comparison, the gates and the report, in a
few seconds and without MLflow, the registry or a subprocess. The real runs on
MovieLens (tests/reelops/test_training_run.py, test_default_run.py) cover the
datasets and tracking around this slice.
"""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from recsys import make_movielens_like
from reelops.config import make_config_loader
from reelops.pipeline_registry import register_pipelines
from tests.conftest import REPO

#: The slice's free output: the comparison report (candidates, split, champion).
OUTPUTS = ("model_comparison",)


@pytest.fixture(scope="module")
def parameters() -> dict[str, Any]:
    return dict(make_config_loader(REPO / "conf", "local")["parameters"])


def run_training_slice(parameters: dict[str, Any], ratings: Any) -> dict[str, Any]:
    training = register_pipelines()["training"]
    candidates = training.from_inputs("ratings_for_training").to_outputs(
        "model_comparison"
    )
    gates = yaml.safe_load((REPO / "conf/base/gates.yml").read_text())
    datasets: dict[str, Any] = {
        "ratings_for_training": MemoryDataset(ratings),
        "champion_model": MemoryDataset(None),  # nothing registered yet
        "training_gates": MemoryDataset(gates),
    }
    for name in candidates.inputs():
        if name.startswith("params:"):
            value: Any = parameters
            for part in name.removeprefix("params:").split("."):
                value = value[part]
            datasets[name] = MemoryDataset(value, copy_mode="assign")
    catalog = DataCatalog(datasets=datasets)
    # the free outputs of the slice (Kedro releases the intermediate ones)
    free = SequentialRunner().run(candidates, catalog)
    return {name: free[name].load() for name in OUTPUTS}


def test_the_training_slice_ranks_every_candidate_and_decides(
    parameters: dict[str, Any],
) -> None:
    # GIVEN 3,000 synthetic ratings of 80 users on 150 movies
    ratings = make_movielens_like(3_000, n_users=80, n_movies=150, random_state=7)
    # WHEN the training pipeline runs from them to the champion decision
    out = run_training_slice(parameters, ratings)
    # THEN every committed candidate was fitted and scored on the same split
    namespaces = {
        instance
        for block in yaml.safe_load((REPO / "pipelines/training.yml").read_text())[
            "instances"
        ]
        for instance in block["namespaces"]
    }
    comparison = out["model_comparison"]
    table = comparison["candidates"]
    assert set(table) == namespaces
    split = comparison["split"]
    assert split["n_train"] + split["n_test"] == len(ratings)
    for metrics in table.values():
        assert 0.0 <= metrics["ndcg@10"] <= 1.0
        assert metrics["rmse"] > 0
    # and the champion is the best candidate by the primary metric
    primary = parameters["selection"]["primary_metric"]
    assert comparison["primary_metric"] == primary
    best = max(table[name][primary] for name in table)
    assert table[comparison["champion"]][primary] == best
    assert isinstance(comparison["registered"], bool)


def test_a_hyperparameter_from_config_reaches_the_fitted_candidate(
    parameters: dict[str, Any],
) -> None:
    # GIVEN the committed parameters with one MF hyperparameter changed
    changed = {
        **parameters,
        "mf": {
            "estimator": {
                "name": "mf",
                "params": {
                    **parameters["mf"]["estimator"]["params"],
                    "n_epochs": 1,
                },
            }
        },
    }
    ratings = make_movielens_like(3_000, n_users=80, n_movies=150, random_state=7)
    # WHEN the slice runs
    table = run_training_slice(changed, ratings)["model_comparison"]["candidates"]
    baseline = run_training_slice(parameters, ratings)["model_comparison"]["candidates"]

    # THEN MF scores differently, and every candidate not built on MF the same
    def scores(row: dict[str, Any]) -> dict[str, Any]:
        return {k: v for k, v in row.items() if not k.endswith("_seconds")}

    assert scores(table["mf"]) != scores(baseline["mf"])
    for name in ("popularity", "bias", "item_knn", "ease"):
        assert scores(table[name]) == scores(baseline[name]), name
