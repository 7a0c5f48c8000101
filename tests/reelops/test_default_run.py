"""A real ``kedro run`` on ml-latest-small: row accounting, EDA figures, MLflow run."""

from __future__ import annotations

import hashlib
import json
import shutil
from pathlib import Path

import mlflow
import pandas as pd
import pytest

from tests.conftest import DATA, make_project, run_kedro

pytestmark = pytest.mark.slow


def test_all_rows_are_valid_and_accounted(default_run: Path) -> None:
    report = json.loads(
        (default_run / "data/08_reporting/ingest_report.json").read_text()
    )
    assert report["balanced"] is True
    assert report["sources"]["ratings"]["valid_rows"] == 100_836
    assert report["sources"]["ratings"]["quarantined_rows"] == 0
    assert report["sources"]["movies"]["valid_rows"] == 9_742
    ratings = pd.read_parquet(default_run / "data/03_primary/ratings.parquet")
    assert len(ratings) == 100_836
    quarantine = pd.read_parquet(
        default_run / "data/02_intermediate/quarantine.parquet"
    )
    assert len(quarantine) == 0


def test_eda_summary_matches_the_data(default_run: Path) -> None:
    summary = json.loads(
        (default_run / "data/08_reporting/eda/eda_summary.json").read_text()
    )
    assert summary["n_ratings"] == 100_836
    assert summary["n_users"] == 610
    assert summary["n_movies_rated"] == 9_724
    assert summary["sparsity"] == pytest.approx(1 - 100_836 / (610 * 9_724), abs=1e-6)
    assert round(summary["sparsity"], 3) == 0.983
    assert sum(summary["rating"]["distribution"].values()) == 100_836
    assert summary["ratings_per_user"]["min"] == 20  # MovieLens keeps users with >= 20
    for plot in (
        "rating_distribution",
        "ratings_per_user",
        "ratings_per_movie",
        "genre_mix",
        "activity_over_time",
    ):
        png = default_run / f"data/08_reporting/eda/{plot}.png"
        assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"


def test_mlflow_run_has_params_lineage_tags_and_artifacts(
    default_run: Path, real_movielens: Path
) -> None:
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{default_run / 'mlflow.db'}")
    [run] = client.search_runs(
        [client.get_experiment_by_name("reelops").experiment_id],
        filter_string="tags.mlflow.parentRunId IS NULL",
    )
    tags = run.data.tags
    assert run.info.status == "FINISHED"
    assert run.data.params["validation.min_timestamp"] == "1995-01-01"
    assert len(tags["git.sha"]) == 40
    assert tags["git.dirty"] in {"true", "false"}
    assert tags["kedro.env"] == "local"
    for name in ("ratings", "movies"):
        data = (real_movielens / f"{name}.csv").read_bytes()
        assert tags[f"data.sha256.{name}"] == hashlib.sha256(data).hexdigest()
    assert len(tags["data.sha256"]) == 64
    assert run.data.metrics["eda.n_ratings"] == 100_836
    # the registered model's metrics on the time-based holdout monitoring judges by
    holdout = json.loads(
        (default_run / "data/06_models/reference/holdout_metrics.json").read_text()
    )
    assert holdout["assessed"] is True
    assert run.data.metrics["holdout.rmse"] == pytest.approx(holdout["metrics"]["rmse"])
    assert "holdout.ndcg_at_10" in run.data.metrics
    artifacts = {a.path for a in client.list_artifacts(run.info.run_id, "eda")}
    assert {"eda/eda_summary.json", "eda/rating_distribution.png"} <= artifacts
    assert client.list_artifacts(run.info.run_id, "ingest")


def test_same_code_takes_another_release_layout_by_configuration_only(
    tmp_path: Path,
) -> None:
    # GIVEN a directory laid out like ml-25m (same CSV columns, extra genome files)
    # holding a corrupt ratings file
    raw = tmp_path / "ml-25m"
    shutil.copytree(DATA / "mini", raw)
    (raw / "genome-scores.csv").write_text("movieId,tagId,relevance\n1,1,0.5\n")
    (raw / "genome-tags.csv").write_text("tagId,tag\n1,funny\n")
    shutil.copy2(DATA / "corrupt" / "wrong_types" / "ratings.csv", raw / "ratings.csv")
    project = make_project(tmp_path / "project")
    # WHEN only MOVIELENS_DIR changes
    run_kedro(
        project, "run", "--pipeline", "data_processing", env={"MOVIELENS_DIR": str(raw)}
    )
    # THEN the data pipeline ingests it, quarantining exactly the bad rows
    report = json.loads((project / "data/08_reporting/ingest_report.json").read_text())
    ratings = report["sources"]["ratings"]
    assert ratings == {
        **ratings,
        "input_rows": 45,
        "valid_rows": 42,
        "quarantined_rows": 3,
        "balanced": True,
    }
    quarantine = pd.read_parquet(project / "data/02_intermediate/quarantine.parquet")
    assert sorted(quarantine["line"]) == [44, 45, 46]


def test_a_broken_header_stops_the_run_with_one_line(tmp_path: Path) -> None:
    raw = tmp_path / "raw"
    shutil.copytree(DATA / "mini", raw)
    shutil.copy2(
        DATA / "corrupt" / "missing_column" / "ratings.csv", raw / "ratings.csv"
    )
    project = make_project(tmp_path / "project")
    proc = run_kedro(
        project,
        "run",
        "--pipeline",
        "data_processing",
        env={"MOVIELENS_DIR": str(raw)},
        check=False,
    )
    assert proc.returncode != 0
    assert (
        "ratings.csv: missing column 'rating' (expected header "
        "'userId,movieId,rating,timestamp', got 'userId,movieId,timestamp')"
    ) in " ".join((proc.stdout + proc.stderr).split())
