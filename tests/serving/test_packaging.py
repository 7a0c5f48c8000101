"""Packaging: pure nodes, the BentoML datasets and the bento build.

The build test runs the real ``bentoml build`` on the real bentofile and then
serves the bento, which must run from its own files with the model it packs (the
serving image built from it is run by ``make image-test``).
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from dataclasses import replace
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from kedro.io.core import DatasetError

from reelops.datasets.bento_build import BentoBuildSpec, BentoDataset
from reelops.datasets.bento_lineage import RegisteredVersionDataset
from reelops.datasets.bento_model import BentoModelDataset, PackagingSkipped
from reelops.errors import ConfigError
from reelops.nodes.packaging import (
    assemble_serving_bundle,
    plan_bento_build,
    serving_tags,
)
from tests.conftest import REPO, wait_http
from tests.serving.conftest import (
    EASE_TAG,
    MODEL,
    start_server,
    stop_server,
    validation_rules,
)

SERVING = REPO / "packages" / "reelops-serving"
BENTO_DIR = SERVING / "src" / "reelops_serving" / "bento"
PACKAGES = ["reelops_serving", "reelops_contracts", "recsys", "reelops_monitoring"]
DECISION = {
    "champion": "ease",
    "register": True,
    "reasons": [],
}
VERSION = {
    "model_name": MODEL,
    "alias": "challenger",
    "version": "12",
    "run_id": "abcdef0123456789",
    "registered_in_active_run": True,
    "tags": {},
    "run_tags": {"git.sha": "f" * 40, "git.dirty": "false", "data.sha256": "e" * 64},
    "metrics": {"ndcg_at_10": 0.3691414, "rmse": 0.88, "precision_at_10": 0.2},
}


def assemble(tables: dict[str, Any], estimator: Any, **over: Any) -> tuple[Any, Any]:
    args = {
        "champion_decision": DECISION,
        "challenger_model": estimator,
        "challenger_version": VERSION,
        "movie_features": tables["movie_features"],
        "user_features": tables["user_features"],
        "validation": validation_rules(),
        "packaging": {"model_name": MODEL, "key_metrics": ["ndcg@10", "rmse"]},
        **over,
    }
    return assemble_serving_bundle(**args)


def test_bundle_carries_lineage_metrics_and_validation_rules(
    tables: dict[str, Any], bundles: dict[str, Any]
) -> None:
    estimator = bundles["ease"].estimator
    bundle, summary = assemble(tables, estimator)
    assert bundle.tag == f"{MODEL}:v12-abcdef01"
    assert bundle.labels == {
        "registered_model": MODEL,
        "model_version": "12",
        "mlflow_run_id": "abcdef0123456789",
        "candidate": "ease",
        "estimator": "EASE",
        "git_sha": "f" * 40,
        "git_dirty": "false",
        "data_sha256": "e" * 64,
        "ndcg_at_10": "0.369141",
        "rmse": "0.88",
    }
    assert bundle.metadata["metrics"]["precision_at_10"] == 0.2
    assert bundle.metadata["validation"]["rating_values"][0] == 0.5
    assert list(bundle.movies.columns) == [
        "movie_id",
        "title",
        "year",
        "genres",
        "n_ratings",
        "popularity_rank",
    ]
    assert set(bundle.users["activity"]) <= {"light", "regular", "heavy"}
    assert summary == {
        "packaged": True,
        "reason": None,
        "model_tag": bundle.tag,
        "bento_version": "v12-abcdef01",
        "labels": bundle.labels,
    }
    # the node does not touch its inputs
    assert "genre_drama" in tables["movie_features"].columns


def test_a_refused_registration_packages_nothing_and_says_why(
    tables: dict[str, Any],
) -> None:
    decision = {**DECISION, "register": False, "reasons": ["ease does not beat bias"]}
    bundle, summary = assemble(
        tables, None, champion_decision=decision, challenger_version=None
    )
    reason = "this run did not register ease: ease does not beat bias"
    assert bundle == PackagingSkipped(reason=reason)
    assert summary == {"packaged": False, "reason": reason}
    assert plan_bento_build(summary) == PackagingSkipped(reason=reason)
    assert serving_tags(summary, None) == {
        "packaged": "false",
        "skipped_because": reason,
    }


def test_a_stale_registry_alias_is_refused(
    tables: dict[str, Any], bundles: dict[str, Any]
) -> None:
    stale = {**VERSION, "registered_in_active_run": False}
    message = (
        f"{MODEL}@challenger is version 12 of run abcdef0123456789, not the one this "
        "run registered"
    )
    with pytest.raises(ValueError, match=re.escape(message)):
        assemble(tables, bundles["ease"].estimator, challenger_version=stale)
    with pytest.raises(ConfigError, match=re.escape("unknown key 'model'")):
        assemble(tables, bundles["ease"].estimator, packaging={"model": "x"})


def test_build_plan_and_run_tags(
    tables: dict[str, Any], bundles: dict[str, Any]
) -> None:
    _, summary = assemble(tables, bundles["ease"].estimator)
    spec = plan_bento_build(summary)
    assert spec == BentoBuildSpec(
        version="v12-abcdef01",
        model_tag=f"{MODEL}:v12-abcdef01",
        labels={**summary["labels"], "model_tag": f"{MODEL}:v12-abcdef01"},
    )
    bento = {"tag": f"{MODEL}:v12-abcdef01"}
    assert serving_tags(summary, bento) == {
        "packaged": "true",
        "model_tag": f"{MODEL}:v12-abcdef01",
        "bento_tag": f"{MODEL}:v12-abcdef01",
    }
    with pytest.raises(ValueError, match="expected the newest bento to have version"):
        serving_tags(summary, {"tag": f"{MODEL}:other"})


def test_model_dataset_round_trip(bundles: dict[str, Any], tmp_path: Path) -> None:
    home = tmp_path / "home"
    dataset = BentoModelDataset(model_name=MODEL, bentoml_home=str(home))
    assert not dataset.exists()
    dataset.save(PackagingSkipped(reason="nothing"))
    assert not dataset.exists()
    dataset.save(bundles["bias"])
    dataset.save(bundles["bias"])  # the same version again: a no-op
    loaded = dataset.load()
    assert loaded["tag"] == bundles["bias"].tag
    assert loaded["labels"]["candidate"] == "biasbaseline"
    assert sorted(p.name for p in Path(loaded["path"]).iterdir()) == [
        "estimator.pkl",
        "model.yaml",
        "movies.parquet",
        "users.parquet",
    ]
    other = replace(bundles["bias"], tag="another-model:v1")
    with pytest.raises(
        DatasetError, match="must be a version of 'reelops-recommender'"
    ):
        dataset.save(other)


def test_registry_dataset_is_read_only() -> None:
    dataset = RegisteredVersionDataset(model_name=MODEL, alias="challenger")
    with pytest.raises(DatasetError, match="is read-only"):
        dataset.save({})


def test_requirements_are_the_locked_versions() -> None:
    uv = str(Path(sys.executable).parent / "uv")  # the locked uv, never PATH's
    exported = subprocess.run(
        [
            uv,
            "export",
            "--frozen",
            "--no-dev",
            "--no-emit-workspace",
            "--no-hashes",
            "--package",
            "reelops-serving",
        ],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    ).stdout

    def pins(text: str) -> list[str]:
        return [
            line
            for line in text.splitlines()
            if line and not line.lstrip().startswith("#")
        ]

    committed = (BENTO_DIR / "requirements.lock.txt").read_text()
    assert pins(committed) == pins(exported), (
        f"{BENTO_DIR / 'requirements.lock.txt'} is stale: regenerate it with uv "
        "export --frozen --no-dev --no-emit-workspace --no-hashes --package "
        "reelops-serving --output-file packages/reelops-serving/src/reelops_serving/"
        "bento/requirements.lock.txt"
    )
    assert any(p.startswith("bentoml==1.4.") for p in pins(committed))


def test_the_bento_requirements_hold_no_pipeline_stack() -> None:
    # GIVEN the pins the bento installs (every serving worker's environment)
    text = (BENTO_DIR / "requirements.lock.txt").read_text()
    names = {
        re.split(r"[=<>!~\[; ]", line, maxsplit=1)[0].lower()
        for line in text.splitlines()
        if line and not line[0].isspace() and not line.startswith("#")
    }
    # THEN the Kedro project's stack is not among them
    assert "bentoml" in names and "scikit-learn" in names
    heavy = sorted(n for n in names if n.startswith(("kedro", "mlflow", "pandera")))
    assert heavy == []


def test_bentofile_is_the_only_build_config() -> None:
    config = yaml.safe_load((BENTO_DIR / "bentofile.yaml").read_text())
    assert config["service"] == "reelops_serving.service:Recommender"
    assert config["python"]["requirements_txt"] == "requirements.lock.txt"
    assert config["python"]["lock_packages"] is False
    source = (SERVING / "src" / "reelops_serving" / "service.py").read_text()
    assert "image=" not in source and "bentoml.images" not in source


@pytest.fixture(scope="module")
def built_bento(model_store: Path) -> dict[str, Any]:
    dataset = BentoDataset(
        bentofile="bento/bentofile.yaml",
        bentofile_package="reelops_serving",
        source_packages=PACKAGES,
        bentoml_home=str(model_store),
    )
    dataset.save(
        BentoBuildSpec(
            version="v1-00000000",
            model_tag=EASE_TAG,
            labels={"model_version": "1", "git_sha": "0" * 40},
        )
    )
    info = dataset.load()
    assert info is not None
    return info


@pytest.mark.slow
def test_bento_holds_code_model_requirements_and_dockerfile(
    built_bento: dict[str, Any],
) -> None:
    path = Path(built_bento["path"])
    assert built_bento["tag"] == "reelops-recommender:v1-00000000"
    assert built_bento["models"] == [EASE_TAG]
    assert built_bento["labels"]["git_sha"] == "0" * 40
    for package in PACKAGES:
        assert (path / "src" / package / "__init__.py").exists(), package
    assert not (path / "src" / "reelops").exists()  # not the Kedro project
    assert not list((path / "src").rglob("__pycache__"))
    info = yaml.safe_load((path / "bento.yaml").read_text())
    assert info["args"] == {"model_tag": EASE_TAG}
    assert info["services"][0]["config"]["traffic"] == {
        "timeout": 2,
        "max_concurrency": 128,
    }
    requirements = (path / "env" / "python" / "requirements.txt").read_text()
    assert "bentoml==1.4.40" in requirements
    assert "scikit-learn==" in requirements
    assert not re.search(r"^(kedro|mlflow|pandera)", requirements, re.MULTILINE)
    openapi = yaml.safe_load((path / "apis" / "openapi.yaml").read_text())
    assert openapi["openapi"] == "3.1.0"
    assert "/recommend" in openapi["paths"]
    # what deploy/serving.Dockerfile takes from the bento: its entrypoint
    assert "bentoml serve" in (path / "env/docker/entrypoint.sh").read_text()


@pytest.mark.slow
def test_the_bento_serves_the_model_it_packs(
    built_bento: dict[str, Any], model_store: Path, tmp_path: Path
) -> None:
    env = {
        "BENTOML_HOME": str(model_store),
        "REELOPS_MODEL_TAG": "",
        "REELOPS_SERVING_CONFIG": "",
        "REELOPS_API_TOKENS": "",
        "REELOPS_API_TOKENS_FILE": "",
        "REELOPS_FEEDBACK_DB_URL": f"sqlite:///{tmp_path / 'feedback.db'}",
        "REELOPS_PROFILE_PATH": str(tmp_path / "profiles"),
    }
    proc, url = start_server(env, tmp_path / "bento.log", target=built_bento["tag"])
    try:
        wait_http(f"{url}/readyz", proc, timeout=240)
        resp = httpx.post(f"{url}/recommend", json={"user_id": 1, "k": 2}, timeout=30)
        assert resp.status_code == 200
        assert resp.json()["model_version"] == EASE_TAG
        doc = httpx.get(f"{url}/docs.json", timeout=30).json()
        assert doc["info"]["version"] == "v1-00000000"
    finally:
        stop_server(proc)


def test_packaging_summary_is_json(
    tables: dict[str, Any], bundles: dict[str, Any]
) -> None:
    _, summary = assemble(tables, bundles["ease"].estimator)
    assert json.loads(json.dumps(summary)) == summary
