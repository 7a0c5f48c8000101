"""GitOps promotion end to end: a real git repository and a real MLflow registry.

Branch -> commit a config change -> merge to main -> staging promotion -> prod
promotion -> rollback, checking files, aliases and history at each step. A
promotion changes files only; the aliases follow with --sync (run on main after the
merge). A worse model is a green no-op; a dirty tree, dirty lineage and failed data
quality are refused; --sync repairs an alias moved by hand; --dry-run changes
nothing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import mlflow
import pandas as pd
import pytest
import yaml
from click.testing import CliRunner
from kedro.framework.startup import bootstrap_project

from recsys import make_estimator
from reelops.challenger import ChallengerPackage
from reelops.datasets import RegisteredModelDataset
from reelops.nodes.split import split_ratings
from reelops.promotion.cli import commands
from reelops.promotion.environment import load_environment
from reelops.promotion.overlay import overlay_image
from tests.conftest import REPO, make_project, movielens_subset, tracking_at

pytestmark = pytest.mark.slow
MODEL = "reelops-recommender"
DATA_SHA = "ab" * 32


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=ci", "-c", "user.email=ci@x", *args],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


def register(repo: Path, name: str, params: dict, **tags: str) -> str:
    """Fit ``name`` on the project's train split and register it as @challenger."""
    train = pd.read_parquet(repo / "data/05_model_input/train.parquet")
    model = make_estimator(name, params).fit(
        train[["user_id", "movie_id"]], train["rating"].to_numpy()
    )
    with tracking_at(f"sqlite:///{repo / 'mlflow.db'}"):
        return _register(repo, name, model, train, tags)


def _register(repo: Path, name: str, model, train: pd.DataFrame, tags: dict) -> str:
    client = mlflow.MlflowClient()
    experiment = client.get_experiment_by_name("reelops")
    experiment_id = (
        experiment.experiment_id if experiment else client.create_experiment("reelops")
    )
    run_tags = {
        "git.sha": git(repo, "rev-parse", "HEAD"),
        "git.dirty": "false",
        "data.sha256": DATA_SHA,
        "data.quality": "passed",
        "serving.bento_tag": f"{MODEL}:v{name}-{len(tags)}",
        **tags,
    }
    with mlflow.start_run(experiment_id=experiment_id, tags=run_tags):
        RegisteredModelDataset(model_name=MODEL, alias="challenger").save(
            ChallengerPackage(
                candidate=name,
                estimator=model,
                metrics={},
                input_example=train[["user_id", "movie_id"]].head(3).astype("int64"),
            )
        )
    return str(client.get_model_version_by_alias(MODEL, "challenger").version)


@dataclass
class Result:
    returncode: int
    stdout: str
    stderr: str


def promote(repo: Path, *args: str, check: bool = True) -> Result:
    """``kedro promote ARGS`` in-process (the CLI command, without a new interpreter)."""
    metadata = bootstrap_project(repo)
    env = {"MLFLOW_TRACKING_URI": f"sqlite:///{repo / 'mlflow.db'}"}
    # kedro-mlflow's hook sets (and exports) the tracking URI for the session:
    # tracking_at puts both back as they were when the command ends.
    with pytest.MonkeyPatch.context() as mp, tracking_at(env["MLFLOW_TRACKING_URI"]):
        mp.chdir(repo)
        for key, value in env.items():
            mp.setenv(key, value)
        res = CliRunner().invoke(commands, ["promote", *args], obj=metadata)
    if res.exception and not isinstance(res.exception, SystemExit):
        raise res.exception
    out = Result(res.exit_code, res.stdout, res.stderr)
    if check and out.returncode != 0:
        pytest.fail(
            f"kedro promote {' '.join(args)} exited {out.returncode}: {out.stdout}{out.stderr}"
        )
    return out


def alias(repo: Path, name: str) -> str | None:
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{repo / 'mlflow.db'}")
    try:
        return str(client.get_model_version_by_alias(MODEL, name).version)
    except mlflow.exceptions.MlflowException:
        return None


def outcome(repo: Path) -> dict:
    return json.loads((repo / "data/08_reporting/promotion.json").read_text())


def env_version(repo: Path, env: str) -> str | None:
    model = load_environment(repo / f"deploy/environments/{env}.yaml").model
    return model.version if model else None


@pytest.fixture(scope="module")
def repo(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("gitops")
    project = make_project(root / "repo")
    for part in ("environments", "overlays", "base"):
        shutil.copytree(REPO / "deploy" / part, project / "deploy" / part)
    raw = movielens_subset(root / "raw", n_users=80)
    ratings = pd.read_csv(raw / "ratings.csv").rename(
        columns={"userId": "user_id", "movieId": "movie_id"}
    )
    train, test, _ = split_ratings(ratings, {"seed": 42})
    (project / "data/05_model_input").mkdir(parents=True)
    train.to_parquet(project / "data/05_model_input/train.parquet")
    test.to_parquet(project / "data/05_model_input/test.parquet")
    git(project, "add", "-A")
    git(project, "commit", "-qm", "environments")
    return project


def test_promotion_lifecycle(repo: Path) -> None:
    # GIVEN a config change merged to main through a branch, and a trained challenger
    git(repo, "checkout", "-qb", "tune-ease")
    params = repo / "conf/base/parameters_training.yml"
    params.write_text(params.read_text().replace("seed: 42", "seed: 43", 1))
    git(repo, "commit", "-qam", "feat: new seed")
    git(repo, "checkout", "-q", "main")
    git(repo, "merge", "-q", "--no-ff", "tune-ease", "-m", "Merge branch 'tune-ease'")
    good = register(repo, "ease", {"lambda_reg": 250.0})

    # WHEN promoted to staging THEN the file names it and history grows, while the
    # alias waits for the change to be on main
    out = promote(repo, "--to", "staging", "--commit").stdout
    assert "PASS beats_current" in out and "no model deployed yet" in out
    assert env_version(repo, "staging") == good
    assert alias(repo, "staging") is None
    assert (
        f"alias @staging -> v{good} once this change is on main (kedro promote --sync)"
        in out
    )
    assert outcome(repo)["promoted"] is True
    promote(repo, "--sync")
    assert alias(repo, "staging") == good
    staging = load_environment(repo / "deploy/environments/staging.yaml").model
    assert staging is not None and staging.candidate == "ease"
    assert (
        staging.data_sha256 == DATA_SHA and staging.promoted_from == "alias:challenger"
    )
    assert staging.metrics["ndcg@10"] > 0
    assert (
        staging.image
        == f"ghcr.io/reelops/reelops-serving:{staging.bento_tag.split(':')[1]}"
    )
    overlay = (repo / "deploy/overlays/staging/kustomization.yaml").read_text()
    assert overlay_image(overlay) == staging.image
    assert "# The bento image of the promoted model" in overlay  # comments kept
    assert git(repo, "show", "--stat", "--format=", "HEAD").count("|") == 2
    assert (
        git(repo, "log", "-1", "--format=%s")
        == f"promote(staging): {MODEL} v{good} (alias:challenger)"
    )

    # WHEN staging's model is promoted to prod THEN prod follows, @champion on sync
    promote(repo, "--to", "prod", "--commit")
    assert env_version(repo, "prod") == good
    assert alias(repo, "champion") is None
    promote(repo, "--sync")
    assert alias(repo, "champion") == good

    # WHEN a worse challenger tries staging THEN it is a green no-op that says why
    worse = register(repo, "popularity", {})
    proc = promote(repo, "--to", "staging")
    assert f"FAIL beats_current: candidate v{worse} ndcg@10=" in proc.stdout
    assert "does not beat current" in proc.stdout
    assert (
        f"nothing to promote: no better model for staging: candidate v{worse}"
        in proc.stdout
    )
    assert outcome(repo)["promoted"] is False
    assert env_version(repo, "staging") == good and alias(repo, "staging") == good

    # WHEN a better model goes through staging to prod
    better = register(repo, "ease", {"lambda_reg": 100.0, "dropout": 0.0})
    promote(repo, "--to", "staging", "--version", better, "--commit")
    promote(repo, "--to", "prod", "--commit")
    promote(repo, "--sync")
    assert env_version(repo, "prod") == better and alias(repo, "champion") == better

    # WHEN prod is rolled back THEN the previous entry comes back, the alias on sync
    promote(repo, "--rollback", "prod", "--commit")
    assert env_version(repo, "prod") == good
    promote(repo, "--sync")
    assert alias(repo, "champion") == good
    assert git(repo, "log", "-1", "--format=%s").startswith(
        f"rollback(prod): v{better} -> v{good}"
    )
    history = git(
        repo, "log", "--format=%s", "--", "deploy/environments/prod.yaml"
    ).splitlines()
    assert len(history) == 4  # initial, v-good, v-better, rollback


def test_dry_run_prints_the_diff_and_changes_nothing(repo: Path) -> None:
    before = (repo / "deploy/environments/staging.yaml").read_text()
    staging_alias = alias(repo, "staging")
    candidate = register(repo, "ease", {"lambda_reg": 50.0, "dropout": 0.0})
    proc = promote(
        repo, "--to", "staging", "--version", candidate, "--dry-run", check=False
    )
    if proc.returncode == 0:
        assert "--- a/staging.yaml" in proc.stdout
        assert f"+  version: '{candidate}'" in proc.stdout
    assert (repo / "deploy/environments/staging.yaml").read_text() == before
    assert alias(repo, "staging") == staging_alias


def test_dirty_tree_blocks_promotion(repo: Path) -> None:
    candidate = register(repo, "ease", {"lambda_reg": 60.0, "dropout": 0.0})
    readme = repo / "conf/base/parameters_training.yml"
    readme.write_text(readme.read_text() + "\n# local edit\n")
    try:
        proc = promote(repo, "--to", "staging", "--version", candidate, check=False)
    finally:
        git(repo, "checkout", "--", "conf/base/parameters_training.yml")
    assert proc.returncode != 0
    assert (
        "FAIL clean_tree: working tree has uncommitted changes (M conf/base/parameters_training.yml)"
        in proc.stdout
    )


def test_a_model_without_a_bento_is_refused(repo: Path) -> None:
    unpackaged = register(
        repo,
        "ease",
        {"lambda_reg": 40.0},
        **{"serving.bento_tag": "", "serving.skipped_because": "not registered"},
    )
    proc = promote(repo, "--to", "staging", "--version", unpackaged, check=False)
    assert "FAIL packaged: no bento to deploy: not registered" in proc.stdout


def test_dirty_lineage_and_failed_data_quality_are_refused(repo: Path) -> None:
    dirty = register(repo, "ease", {"lambda_reg": 70.0}, **{"git.dirty": "true"})
    proc = promote(repo, "--to", "staging", "--version", dirty, check=False)
    assert proc.returncode != 0
    assert "FAIL lineage: trained from a dirty working tree at" in proc.stdout
    bad_data = register(
        repo,
        "ease",
        {"lambda_reg": 80.0},
        **{"data.quality": "failed", "data.quality.failures": "ratings 3.00% > 1.00%"},
    )
    proc = promote(repo, "--to", "staging", "--version", bad_data, check=False)
    assert (
        "FAIL data_quality: training data failed its quality check: ratings 3.00% > 1.00%"
        in proc.stdout
    )


def test_open_drift_alarm_on_the_training_data_blocks_promotion(repo: Path) -> None:
    candidate = register(repo, "ease", {"lambda_reg": 90.0, "dropout": 0.0})
    decision = repo / "data/08_reporting/monitoring/decision.json"
    decision.parent.mkdir(parents=True, exist_ok=True)
    decision.write_text(
        '{"retrain": true, "reasons": ["rating drift (KS p=0.001)"], '
        f'"data_sha256": "{DATA_SHA}"}}'
    )
    try:
        proc = promote(repo, "--to", "staging", "--version", candidate, check=False)
    finally:
        decision.unlink()
    assert (
        "FAIL no_drift_alarm: open drift alarm on its training data: rating drift (KS p=0.001)"
        in proc.stdout
    )


def test_sync_repairs_an_alias_moved_by_hand(repo: Path) -> None:
    prod = env_version(repo, "prod")
    client = mlflow.MlflowClient(tracking_uri=f"sqlite:///{repo / 'mlflow.db'}")
    other = str(int(prod) + 1)
    client.set_registered_model_alias(MODEL, "champion", other)
    out = promote(repo, "--sync").stdout
    assert f"prod: drift: @champion -> v{other}, prod.yaml says v{prod}" in out
    assert alias(repo, "champion") == prod
    assert "1 alias(es) drifted" in out
    assert "0 alias(es) drifted" in promote(repo, "--sync").stdout


def test_environment_files_validate() -> None:
    for path in sorted((REPO / "deploy/environments").glob("*.yaml")):
        env = load_environment(path)
        assert env.environment == path.stem
        assert yaml.safe_load(path.read_text())["environment"] == path.stem


def test_promotion_scores_with_training_evaluation_protocol(repo: Path) -> None:
    # GIVEN training's evaluation parameters set wrong in conf/local (not committed)
    candidate = register(repo, "ease", {"lambda_reg": 60.0, "dropout": 0.0})
    local = repo / "conf/local/parameters.yml"
    local.parent.mkdir(parents=True, exist_ok=True)
    local.write_text("evaluation: {k: 10, max_users: 0, sample_seed: 42}\n")
    try:
        proc = promote(repo, "--to", "staging", "--version", candidate, check=False)
    finally:
        local.unlink()
    # THEN promotion, which scores with them, refuses them in one line
    assert proc.returncode != 0
    assert proc.stderr == (
        "Error: conf/local/parameters.yml: parameter 'evaluation': key 'max_users': "
        "Input should be greater than 0, got 0\n"
    )
