"""Every environment's catalog, parameters and MLflow config resolve offline."""

from __future__ import annotations

from pathlib import Path

import pytest
from kedro.config import MissingConfigException
from kedro.io import DataCatalog

from reelops.config import ENVIRONMENTS, make_config_loader
from tests.conftest import REPO

CONF = REPO / "conf"
REMOTE_ENV = {
    "REELOPS_DATA_ROOT": "s3://reelops-test/data",
    "MLFLOW_TRACKING_URI": "http://mlflow.reelops.svc:5000",
}


@pytest.mark.parametrize("env", ["base", *ENVIRONMENTS])
def test_environment_resolves_without_network(
    env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key, value in REMOTE_ENV.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("MOVIELENS_DIR", raising=False)
    loader = make_config_loader(CONF, env)
    catalog_conf = loader["catalog"]
    params = loader["parameters"]
    mlflow_conf = loader["mlflow"]
    # every dataset can be instantiated (s3fs filesystems are created lazily)
    try:
        credentials = loader["credentials"]
    except MissingConfigException:
        credentials = {}
    catalog = DataCatalog.from_config(catalog_conf, credentials)
    for name in (n for n in catalog_conf if not n.startswith("_") and "{" not in n):
        assert catalog.get(name) is not None, name
    assert "rating_values" not in params["validation"]  # the contracts' scale
    uri = mlflow_conf["server"]["mlflow_tracking_uri"]
    if env in {"staging", "prod"}:
        assert catalog_conf["ratings"]["filepath"].startswith("s3://reelops-test/data/")
        assert catalog_conf["raw_ratings"]["filepath"].startswith("s3://reelops-test/")
        assert uri == REMOTE_ENV["MLFLOW_TRACKING_URI"]
        assert mlflow_conf["tracking"]["experiment"]["name"] == f"reelops-{env}"
    elif env == "dev":  # a dev bucket when REELOPS_DATA_ROOT is set, else local
        assert catalog_conf["ratings"]["filepath"].startswith("s3://reelops-test/")
        assert not catalog_conf["raw_ratings"]["filepath"].startswith("s3://")
    else:
        assert catalog_conf["ratings"]["filepath"] == "data/03_primary/ratings.parquet"


@pytest.mark.parametrize("env", ["staging", "prod"])
def test_remote_environments_default_to_their_bucket_and_server(
    env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    for key in ("REELOPS_DATA_ROOT", "MLFLOW_TRACKING_URI", "MOVIELENS_DIR"):
        monkeypatch.delenv(key, raising=False)
    loader = make_config_loader(CONF, env)
    catalog = loader["catalog"]
    assert catalog["ratings"]["filepath"] == (
        f"s3://reelops-{env}/data/03_primary/ratings.parquet"
    )
    assert catalog["raw_ratings"]["filepath"].startswith(
        f"s3://reelops-{env}/data/01_raw/"
    )
    uri = loader["mlflow"]["server"]["mlflow_tracking_uri"]
    assert uri == "http://mlflow.mlflow.svc.cluster.local:5000"


def test_reporting_datasets_logged_to_mlflow_stay_local(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # MLflow logs artifacts from local files: a remote filepath would break the run
    monkeypatch.delenv("REELOPS_DATA_ROOT", raising=False)
    catalog = make_config_loader(CONF, "staging")["catalog"]
    for name, entry in catalog.items():
        if isinstance(entry, dict) and "MlflowArtifactDataset" in str(
            entry.get("type")
        ):
            assert entry["dataset"]["filepath"].startswith("data/08_reporting/"), name


def test_local_config_is_never_committed() -> None:
    ignored = (REPO / ".gitignore").read_text()
    assert "conf/local/**" in ignored
    tracked = sorted(p.name for p in (CONF / "local").iterdir())
    assert tracked in ([".gitkeep"], [".gitkeep", "credentials.yml"])


def test_every_env_dir_exists() -> None:
    assert {p.name for p in CONF.iterdir() if p.is_dir()} >= {
        "base",
        "local",
        *ENVIRONMENTS,
    }


def test_parameters_validate(tmp_path: Path) -> None:
    from reelops._pydantic import parse_config
    from reelops_contracts import ValidationRules

    rules = parse_config(
        ValidationRules,
        make_config_loader(CONF, "base")["parameters"]["validation"],
        "validation",
    )
    assert rules.timestamp_bounds.__name__ == "timestamp_bounds"
    assert len(rules.genres) == 20
