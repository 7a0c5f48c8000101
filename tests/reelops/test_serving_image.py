"""``python -m reelops.serving_image``: the image promotion names, built from the bento."""

from __future__ import annotations

import json
from pathlib import Path

import click
import pytest
import yaml
from click.testing import CliRunner

from reelops.promotion.gates import PromotionConfig
from reelops.serving_image import bento_tag, image_commands, main
from tests.conftest import REPO

SUMMARY = {
    "bento_version": "v3-0123abcd",
    "model_tag": "reelops-recommender:v3-0123abcd",
    "packaged": True,
    "reason": None,
}


def test_the_image_is_the_repository_at_the_bento_version() -> None:
    tag = bento_tag(SUMMARY, "reelops-recommender")
    assert tag == "reelops-recommender:v3-0123abcd"
    image = PromotionConfig(
        model_name="m", serving_image="ghcr.io/x/serving"
    ).image_for(tag)
    assert image == "ghcr.io/x/serving:v3-0123abcd"
    assert image_commands(tag, image, push=True) == [
        [
            "bentoml",
            "containerize",
            "reelops-recommender:v3-0123abcd",
            "--image-tag",
            "ghcr.io/x/serving:v3-0123abcd",
        ],
        ["docker", "push", "ghcr.io/x/serving:v3-0123abcd"],
    ]
    assert len(image_commands(tag, image, push=False)) == 1


def test_a_run_that_packaged_nothing_says_why() -> None:
    skipped = {"packaged": False, "reason": "no challenger registered (gate failed)"}
    with pytest.raises(click.ClickException) as err:
        bento_tag(skipped, "reelops-recommender")
    assert err.value.message == (
        "the last run packaged no bento: no challenger registered (gate failed)"
    )


@pytest.fixture
def in_repo(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.chdir(REPO)
    summary = tmp_path / "packaging_summary.json"
    summary.write_text(json.dumps(SUMMARY), encoding="utf-8")
    return summary


def test_dry_run_prints_the_image_that_promotion_writes(in_repo: Path) -> None:
    # GIVEN the repository's promotion config and bentofile
    promotion = yaml.safe_load((REPO / "conf/base/promotion.yml").read_text())
    # WHEN the commands are printed
    result = CliRunner().invoke(main, ["--dry-run", "--push", "--summary", in_repo])
    # THEN they build and push <serving_image>:<bento version>, nothing else runs
    assert result.exit_code == 0, result.output
    image = f"{promotion['serving_image']}:v3-0123abcd"
    assert result.output.splitlines() == [
        f"bentoml containerize reelops-recommender:v3-0123abcd --image-tag {image}",
        f"docker push {image}",
    ]


def test_without_docker_it_fails_in_one_line(
    in_repo: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    empty = tmp_path / "bin"
    empty.mkdir()
    monkeypatch.setenv("PATH", str(empty))
    result = CliRunner().invoke(main, ["--summary", in_repo])
    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == (
        "Error: docker not found: building the image needs a Docker engine "
        "(the commands above are what would run)"
    )


def test_a_missing_summary_points_at_make_run(in_repo: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["--summary", tmp_path / "none.json"])
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"Error: no readable packaging summary at {tmp_path / 'none.json'} "
        "(FileNotFoundError): run `make run` (or `kedro run --pipeline packaging`) "
        "first"
    )
