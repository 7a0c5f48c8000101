"""The GitOps loop end to end, in real git, with the real services.

PR -> merge -> main workflow steps -> staging promotion PR -> merge -> sync -> serve
-> feedback -> monitor -> retrain -> package -> promotion PR -> merge -> sync -> serve
-> prod promotion PR -> merge -> sync.

``origin`` is a bare repository. A maintainer clone merges pull requests (branches
merged with ``--no-ff`` and pushed); the runner clone runs the workflows' steps as
the workflows do, as make targets (this repository's Makefile and venv), and opens
the bot's pull requests with exactly the paths ``kedro promote`` reports changing.
One MLflow tracking DB, one BentoML store and one feedback database stand for the
shared services; the service is a real ``bentoml serve`` of the bento the
environment file names. At every step the environment files, the overlays, the
MLflow aliases and the model the service answers with must agree.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import mlflow
import pandas as pd
import pytest
import yaml

from reelops.promotion.environment import load_environment
from reelops.promotion.gates import PromotionConfig
from reelops.promotion.overlay import overlay_image
from tests.conftest import (
    QUIET_ENV,
    REPO,
    make_project,
    movielens_dir,
    movielens_subset,
    wait_http,
)
from tests.serving.conftest import start_server, stop_server

pytestmark = [pytest.mark.slow, pytest.mark.system]

MODEL = "reelops-recommender"
N_USERS = 150  # the users MovieLens ships at first; the next ones arrive as feedback
ALIASES = {"staging": "staging", "prod": "champion"}
SERVING_IMAGE = yaml.safe_load((REPO / "conf/base/promotion.yml").read_text())[
    "serving_image"
]


def git(repo: Path, *args: str) -> str:
    return subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=bot", "-c", "user.email=b@x", *args],
        check=True,
        capture_output=True,
        text=True,
    ).stdout.strip()


class Loop:
    """The repositories, the shared services and the steps of the workflows."""

    def __init__(self, root: Path, raw: Path) -> None:
        self.root = root
        self.origin = root / "origin.git"
        self.maintainer = root / "maintainer"
        self.runner = root / "runner"
        self.env = {
            **os.environ,
            **QUIET_ENV,
            "MOVIELENS_DIR": str(raw),
            "MLFLOW_TRACKING_URI": f"sqlite:///{root / 'mlflow.db'}",
            "BENTOML_HOME": str(root / "bentoml_home"),
            "REELOPS_FEEDBACK_DB_URL": f"sqlite:///{root / 'feedback.db'}",
            "REELOPS_PROFILE_PATH": str(root / "request_profiles"),
        }
        self.client = mlflow.MlflowClient(tracking_uri=self.env["MLFLOW_TRACKING_URI"])

    # ------------------------------------------------------------------- make
    def make(self, *targets: str, **variables: str) -> str:
        """``make TARGETS`` in the runner clone, with this repository's venv as is."""
        proc = subprocess.run(
            [
                "make",
                "--no-print-directory",
                f"VENV={REPO / '.venv'}",
                "SETUP=",
                *targets,
                *(f"{k}={v}" for k, v in variables.items()),
            ],
            cwd=self.runner,
            env=self.env,
            capture_output=True,
            text=True,
            timeout=900,
            check=False,
        )
        if proc.returncode != 0:
            pytest.fail(
                f"make {' '.join(targets)} exited {proc.returncode}\n"
                f"{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
            )
        return proc.stdout

    # -------------------------------------------------------------------- git
    def pull(self) -> None:
        git(self.runner, "fetch", "-q", "origin")
        git(self.runner, "checkout", "-q", "main")
        git(self.runner, "reset", "-q", "--hard", "origin/main")

    def bot_pull_request(self, branch: str) -> list[str]:
        """What create-pull-request does: the promotion's paths on a new branch."""
        outcome = json.loads(
            (self.runner / "data/08_reporting/promotion.json").read_text()
        )
        assert outcome["promoted"] is True, outcome
        paths = outcome["paths"]
        git(self.runner, "checkout", "-qb", branch)
        git(self.runner, "add", *paths)
        git(self.runner, "commit", "-qm", f"promote: {branch}")
        git(self.runner, "push", "-q", "origin", branch)
        git(self.runner, "checkout", "-q", "main")
        assert git(self.runner, "status", "--porcelain") == "", "the bot left changes"
        return paths

    def merge(self, branch: str) -> None:
        """A maintainer merges the pull request of ``branch`` into main."""
        git(self.maintainer, "fetch", "-q", "origin")
        git(self.maintainer, "checkout", "-q", "main")
        git(self.maintainer, "reset", "-q", "--hard", "origin/main")
        git(self.maintainer, "merge", "-q", "--no-ff", f"origin/{branch}", "-m", branch)
        git(self.maintainer, "push", "-q", "origin", "main")

    # ------------------------------------------------------------------ state
    def alias(self, name: str) -> str | None:
        try:
            return str(self.client.get_model_version_by_alias(MODEL, name).version)
        except mlflow.exceptions.MlflowException:
            return None

    def deployed(self, env: str) -> dict:
        """What main says ``env`` serves: the file, its overlay, its alias."""
        model = load_environment(self.runner / f"deploy/environments/{env}.yaml").model
        assert model is not None and model.bento_tag and model.image
        overlay = (
            self.runner / f"deploy/overlays/{env}/kustomization.yaml"
        ).read_text()
        return {
            "version": model.version,
            "bento": model.bento_tag,
            "image": model.image,
            "overlay_image": overlay_image(overlay),
            "alias": self.alias(ALIASES[env]),
        }

    def assert_agree(self, env: str, version: str) -> dict:
        state = self.deployed(env)
        image = PromotionConfig(model_name=MODEL, serving_image=SERVING_IMAGE)
        assert state == {
            "version": version,
            "bento": state["bento"],
            "image": image.image_for(state["bento"]),
            "overlay_image": image.image_for(state["bento"]),
            "alias": version,
        }
        return state

    def land(self, env: str, branch: str) -> dict:
        """The bot's pull request of the promotion just written, merged, then the
        post-merge workflow: aliases follow git, the overlay renders and validates.
        """
        outcome = json.loads(
            (self.runner / "data/08_reporting/promotion.json").read_text()
        )
        before = self.alias(ALIASES[env])
        # the pull request carries the environment file AND its overlay
        assert self.bot_pull_request(branch) == [
            f"deploy/environments/{env}.yaml",
            f"deploy/overlays/{env}/kustomization.yaml",
        ]
        assert self.alias(ALIASES[env]) == before  # nothing moves before the merge
        self.merge(branch)
        self.pull()
        self.make("promote-sync")
        self.make("deploy-check", ENV=env)
        return self.assert_agree(env, outcome["version"])

    @contextmanager
    def serving(self, bento: str) -> Iterator[str]:
        """``bentoml serve`` of the bento an environment file names."""
        env = {k: self.env[k] for k in self.env if k.startswith(("BENTOML", "REELOPS"))}
        proc, url = start_server(env, self.root / "serve.log", target=bento)
        try:
            wait_http(f"{url}/readyz", proc, timeout=120)
            yield url
        finally:
            stop_server(proc)


@pytest.fixture(scope="module")
def loop(tmp_path_factory: pytest.TempPathFactory) -> Loop:
    root = tmp_path_factory.mktemp("loop")
    raw = movielens_subset(root / "raw", n_users=N_USERS)
    seed = make_project(root / "seed")
    shutil.copytree(REPO / "deploy", seed / "deploy")
    for name in ("Makefile", "uv.lock"):
        shutil.copy2(REPO / name, seed / name)
    (seed / "conf/local/.gitkeep").touch()
    git(seed, "add", "-A")
    git(seed, "commit", "-qm", "the repository as it lands on main")
    loop = Loop(root, raw)
    subprocess.run(
        ["git", "clone", "-q", "--bare", str(seed), str(loop.origin)], check=True
    )
    for clone in (loop.maintainer, loop.runner):
        subprocess.run(["git", "clone", "-q", str(loop.origin), str(clone)], check=True)
    return loop


def feedback_rows(n_users: int, per_user: int) -> pd.DataFrame:
    """Real ratings of MovieLens users who were not there at first.

    ``per_user`` ratings from each of ``n_users`` newcomers: a window of a few
    heavy raters says more about them than about the model (monitoring judges
    decay from 10 users on), so the window is spread over many.
    """
    ratings = pd.read_csv(movielens_dir() / "ratings.csv")
    newcomers = ratings[ratings["userId"] > N_USERS].groupby("userId").head(per_user)
    chosen = newcomers["userId"].drop_duplicates().head(n_users)
    newcomers = newcomers[newcomers["userId"].isin(chosen)]
    return newcomers.rename(columns={"userId": "user_id", "movieId": "movie_id"})


def served_version(answer: dict) -> str:
    """The registry version in a response's model tag (``<name>:v<version>-<run>``)."""
    match = re.fullmatch(rf"{MODEL}:v(\d+)-[0-9a-f]{{8}}", answer["model_version"])
    assert match, answer["model_version"]
    return match.group(1)


def test_the_loop_holds_together(loop: Loop) -> None:
    # ---- a pull request changes a config; it is merged to main
    git(loop.maintainer, "checkout", "-qb", "tune-seed")
    params = loop.maintainer / "conf/base/parameters_training.yml"
    params.write_text(params.read_text().replace("\nseed: 42", "\nseed: 7", 1))
    git(loop.maintainer, "commit", "-qam", "feat: another seed")
    git(loop.maintainer, "push", "-q", "origin", "tune-seed")
    loop.merge("tune-seed")

    # ---- main workflow: train, package, build the image, propose staging
    loop.pull()
    loop.make("run")
    loop.make("serving-image", IMAGE_FLAGS="--dry-run")
    loop.make("promote-staging")
    staging = loop.land("staging", "promote/staging-1")
    v1 = staging["version"]

    # ---- the service answers with staging's model; users send feedback
    newcomers = feedback_rows(30, 10)
    with loop.serving(staging["bento"]) as url:
        answer = httpx.post(f"{url}/recommend", json={"user_id": 1, "k": 5}).json()
        assert served_version(answer) == v1
        for row in newcomers.itertuples():
            stored = httpx.post(
                f"{url}/feedback",
                json={
                    "user_id": row.user_id,
                    "movie_id": row.movie_id,
                    "rating": row.rating,
                },
                # one key per rating, as a client retrying safely would send
                headers={"Idempotency-Key": str(uuid.uuid4())},
            )
            assert stored.status_code == 200, stored.text
        # a rating sent an hour ago is never recommended back
        someone = int(newcomers["user_id"].iloc[0])
        rated = set(newcomers.loc[newcomers["user_id"] == someone, "movie_id"])
        again = httpx.post(
            f"{url}/recommend", json={"user_id": someone, "k": 20}
        ).json()
        assert not {i["movie_id"] for i in again["items"]} & rated

    # ---- monitoring asks for a retrain; the retrain path runs to a promotion
    loop.make("monitor", IMAGE_FLAGS="--dry-run")
    decision = json.loads(
        (loop.runner / "data/08_reporting/monitoring/decision.json").read_text()
    )
    assert decision["retrain"] is True, decision["reasons"]
    assert decision["model"]["version"] == v1  # it judged what was served
    second = json.loads((loop.runner / "data/08_reporting/promotion.json").read_text())
    assert second["promoted"] is True, second
    assert all(g["passed"] for g in second["gates"].values())
    staging = loop.land("staging", "promote/staging-2")
    v2 = staging["version"]
    assert v2 != v1

    # ---- the new model has seen the feedback and recommends nothing rated
    with loop.serving(staging["bento"]) as url:
        answer = httpx.post(
            f"{url}/recommend", json={"user_id": someone, "k": 20}
        ).json()
        assert answer["cold_start"] is False
        assert served_version(answer) == v2
        assert not {i["movie_id"] for i in answer["items"]} & rated

    # ---- prod: staging's model, through a pull request, alias on merge
    loop.make("promote-prod")
    assert loop.land("prod", "promote/prod-1")["version"] == v2
    assert "0 alias(es) drifted" in loop.make("promote-sync")
