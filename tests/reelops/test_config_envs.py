"""Every environment's catalog, parameters and MLflow config resolve offline."""

from __future__ import annotations

import re
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
    assert params["validation"]["rating_values"][0] == 0.5
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
def test_remote_environments_require_their_variables(
    env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("REELOPS_DATA_ROOT", raising=False)
    with pytest.raises(Exception, match=re.escape("REELOPS_DATA_ROOT")):
        make_config_loader(CONF, env)["catalog"]


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
    from reelops.validation import ValidationRules

    rules = parse_config(
        ValidationRules,
        make_config_loader(CONF, "base")["parameters"]["validation"],
        "validation",
    )
    assert rules.timestamp_bounds.__name__ == "timestamp_bounds"
    assert len(rules.genres) == 20
