"""Serving images are deployed by digest once pushed: push -> run tag -> overlay.

``make serving-image IMAGE_FLAGS=--push`` asks Docker for the digest the push
landed at and records ``<image>:<tag>@sha256:...`` as run tag ``serving.image``;
``kedro promote`` pins the environment file and the overlay (kustomize
``digest:``) with it. An image never pushed is named by its tag.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import click
import mlflow
import pytest
import yaml
from click.testing import CliRunner

from reelops.errors import ConfigError
from reelops.promotion.gates import PUSHED_IMAGE_TAG, PromotionConfig
from reelops.promotion.overlay import (
    main,
    overlay_image,
    set_overlay_image,
    split_image,
)
from reelops.serving_image import pushed_digest, record_pushed_image
from tests.conftest import REPO, tracking_at

IMAGE = "ghcr.io/reelops/reelops-serving:v7-0123abcd"
DIGEST = "sha256:" + "5e" * 32
PINNED = f"{IMAGE}@{DIGEST}"
CONFIG = PromotionConfig(
    model_name="m", serving_image="ghcr.io/reelops/reelops-serving"
)


def test_promotion_pins_the_image_that_was_pushed() -> None:
    bento = "reelops-recommender:v7-0123abcd"
    assert CONFIG.pinned_image(bento, {PUSHED_IMAGE_TAG: PINNED}) == PINNED
    # never pushed (a local build, --dry-run): named by tag
    assert CONFIG.pinned_image(bento, {}) == IMAGE
    # a digest recorded for another image is not this one's
    other = f"ghcr.io/reelops/reelops-serving:v6-ffffffff@{DIGEST}"
    assert CONFIG.pinned_image(bento, {PUSHED_IMAGE_TAG: other}) == IMAGE


def test_an_image_reference_is_split_or_refused_in_one_line() -> None:
    assert split_image(PINNED) == (
        "ghcr.io/reelops/reelops-serving",
        "v7-0123abcd",
        DIGEST,
    )
    assert split_image("localhost:5000/serving:v1") == (
        "localhost:5000/serving",
        "v1",
        None,
    )
    msg = (
        "image must be 'repository:tag' or 'repository:tag@sha256:<64 hex>', "
        f"got '{IMAGE}@sha256:abc'"
    )
    with pytest.raises(ConfigError, match=re.escape(msg)):
        split_image(f"{IMAGE}@sha256:abc")


def test_the_overlay_gets_a_digest_line_and_loses_it_again() -> None:
    # GIVEN the prod overlay as committed (the placeholder image)
    text = (REPO / "deploy/overlays/prod/kustomization.yaml").read_text()
    # WHEN a pushed image is promoted, then one that was never pushed
    pinned = set_overlay_image(text, PINNED)
    unpinned = set_overlay_image(pinned, IMAGE)
    # THEN the digest sits beside newTag, and only the image lines change
    entry = yaml.safe_load(pinned)["images"][0]
    assert entry == {
        "name": "reelops-serving",
        "newName": "ghcr.io/reelops/reelops-serving",
        "newTag": "v7-0123abcd",
        "digest": DIGEST,
    }
    assert overlay_image(pinned) == PINNED
    assert overlay_image(unpinned) == IMAGE
    assert "digest:" not in unpinned.split("images:")[1]
    assert unpinned == set_overlay_image(text, IMAGE)
    assert len(pinned.splitlines()) == len(text.splitlines()) + 1


@pytest.mark.skipif(shutil.which("kubectl") is None, reason="needs kubectl")
def test_the_rendered_deployment_runs_the_pinned_image(tmp_path: Path) -> None:
    deploy = tmp_path / "deploy"
    shutil.copytree(REPO / "deploy", deploy)
    kust = deploy / "overlays/prod/kustomization.yaml"
    kust.write_text(set_overlay_image(kust.read_text(), PINNED))
    rendered = subprocess.run(
        ["kubectl", "kustomize", str(deploy / "overlays/prod")],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    (deployment,) = [
        d for d in yaml.safe_load_all(rendered) if d and d["kind"] == "Deployment"
    ]
    (container,) = deployment["spec"]["template"]["spec"]["containers"]
    assert container["image"] == PINNED


def test_deploy_check_compares_digests_too(tmp_path: Path) -> None:
    # GIVEN prod's file naming the pinned image and an overlay naming it by tag
    for part in ("environments", "overlays"):
        shutil.copytree(REPO / "deploy" / part, tmp_path / part)
    env = tmp_path / "environments/prod.yaml"
    env.write_text(
        yaml.safe_dump(
            {
                "environment": "prod",
                "model": {
                    "name": "reelops-recommender",
                    "version": "7",
                    "run_id": "0123abcd",
                    "candidate": "ease",
                    "git_sha": "f" * 40,
                    "data_sha256": "e" * 64,
                    "bento_tag": "reelops-recommender:v7-0123abcd",
                    "image": PINNED,
                    "promoted_at": "2026-12-04T05:00:00Z",
                    "promoted_from": "env:staging",
                },
            }
        )
    )
    kust = tmp_path / "overlays/prod/kustomization.yaml"
    kust.write_text(set_overlay_image(kust.read_text(), IMAGE))
    args = ["--environments", str(tmp_path / "environments")]
    args += ["--overlays", str(tmp_path / "overlays")]
    # THEN deploy-check fails; once the overlay carries the digest it passes
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 1
    assert f"image {IMAGE}, prod.yaml says {PINNED}" in result.output
    kust.write_text(set_overlay_image(kust.read_text(), PINNED))
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    assert f"prod: {PINNED}" in result.output


def fake_docker(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, digests: str) -> None:
    """A ``docker`` on PATH whose ``image inspect`` prints ``digests``."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    docker = bin_dir / "docker"
    docker.write_text(f"#!/bin/sh\ncat <<'EOF'\n{digests}\nEOF\n")
    docker.chmod(0o755)
    monkeypatch.setenv("PATH", f"{bin_dir}:/usr/bin:/bin")


def test_the_digest_is_the_one_of_the_pushed_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    other = "docker.io/library/other@sha256:" + "0" * 64
    fake_docker(
        tmp_path, monkeypatch, json.dumps([other, PINNED.replace(":v7-0123abcd", "")])
    )
    assert pushed_digest(IMAGE) == DIGEST


def test_no_digest_after_a_push_is_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_docker(tmp_path, monkeypatch, "[]")
    with pytest.raises(click.ClickException) as err:
        pushed_digest(IMAGE)
    assert err.value.message == (
        f"no registry digest of {IMAGE} after docker push (RepoDigests [])"
    )


def test_the_pushed_image_is_recorded_on_the_models_run(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # GIVEN the run that registered the model
    uri = f"sqlite:///{tmp_path / 'mlflow.db'}"
    monkeypatch.setenv("MLFLOW_TRACKING_URI", uri)
    monkeypatch.chdir(tmp_path)
    with tracking_at(uri):
        run = mlflow.MlflowClient().create_run(experiment_id="0")  # the default one
        # WHEN the push is recorded THEN promotion finds it in the run's tags
        record_pushed_image(run.info.run_id, PINNED)
        tags = mlflow.MlflowClient().get_run(run.info.run_id).data.tags
    assert tags[PUSHED_IMAGE_TAG] == PINNED
    assert CONFIG.pinned_image("reelops-recommender:v7-0123abcd", tags) == PINNED


def entry_for(run_tags: dict[str, str]) -> tuple[Any, str]:
    """What ``kedro promote`` writes for a version whose run has ``run_tags``."""
    from reelops.promotion.cli import _Context, _entry
    from reelops.promotion.gates import Evidence

    ctx = _Context(Path("."), CONFIG, client=None, catalog=None, evaluation={})  # type: ignore[arg-type]
    mv = SimpleNamespace(version="7", run_id="0123abcd", tags={"candidate": "ease"})
    evidence = Evidence(
        version="7",
        run_tags={
            "serving.bento_tag": "reelops-recommender:v7-0123abcd",
            "git.sha": "f" * 40,
            "data.sha256": "e" * 64,
            **run_tags,
        },
        metrics={"ndcg@10": 0.3},
    )
    runner = CliRunner()
    with runner.isolation() as (out, _, _):
        model = _entry(ctx, mv, evidence, "alias:challenger")
    return model, out.getvalue().decode()


def test_a_promotion_names_the_pushed_image_by_digest() -> None:
    model, said = entry_for({PUSHED_IMAGE_TAG: PINNED})
    assert model.image == PINNED
    assert said == ""


def test_a_promotion_of_an_image_never_pushed_says_it_is_named_by_tag() -> None:
    model, said = entry_for({})
    assert model.image == IMAGE
    assert said.splitlines() == [
        f"image {IMAGE} is named by tag: no pushed digest recorded on run 0123abcd "
        f"({PUSHED_IMAGE_TAG}; build it with `make serving-image IMAGE_FLAGS=--push`)"
    ]
