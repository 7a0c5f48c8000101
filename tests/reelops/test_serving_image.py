"""``python -m reelops.serving_image``: the image promotion names, built from the bento."""

from __future__ import annotations

import json
import os
from pathlib import Path

import click
import pytest
import yaml
from click.testing import CliRunner

from reelops.datasets.bento_build import write_bento_archive
from reelops.promotion.gates import PromotionConfig
from reelops.serving_image import (
    BentoFiles,
    assemble_context,
    bento_tag,
    extract_archive,
    image_commands,
    main,
)
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
    context, dockerfile = Path("ctx"), Path("serving.Dockerfile")
    assert image_commands(
        context, dockerfile, image, base_image="local/py:3.11", push=True
    ) == [
        [
            "docker",
            "build",
            "--file",
            "serving.Dockerfile",
            "--build-arg",
            "PYTHON_IMAGE=local/py:3.11",
            "--tag",
            "ghcr.io/x/serving:v3-0123abcd",
            "ctx",
        ],
        ["docker", "push", "ghcr.io/x/serving:v3-0123abcd"],
    ]
    # without a base image the Dockerfile's default (the official image) applies
    (build,) = image_commands(context, dockerfile, image, base_image=None, push=False)
    assert "--build-arg" not in build


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
    monkeypatch.delenv("PYTHON_IMAGE", raising=False)  # CI sets a local base
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
        "# context build/serving-image: bento reelops-recommender:v3-0123abcd with "
        "its models (the BentoML store), wheelhouse build/wheelhouse",
        "docker build --file deploy/serving.Dockerfile --tag "
        f"{image} build/serving-image",
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
        "(the commands above are what would run; --dry-run only prints them)"
    )


def test_a_missing_summary_points_at_make_run(in_repo: Path, tmp_path: Path) -> None:
    result = CliRunner().invoke(main, ["--summary", tmp_path / "none.json"])
    assert result.exit_code == 1
    assert result.output.strip() == (
        f"Error: no readable packaging summary at {tmp_path / 'none.json'} "
        "(FileNotFoundError): run `make run` (or `kedro run --pipeline packaging`) "
        "first"
    )


def test_a_docker_cli_without_an_engine_fails_in_one_line(
    in_repo: Path, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # GIVEN a docker CLI whose daemon does not answer (as `docker info` reports it)
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    fake = bin_dir / "docker"
    fake.write_text(
        "#!/bin/sh\necho 'Cannot connect to the Docker daemon at "
        "unix:///var/run/docker.sock. Is the docker daemon running?' >&2\nexit 1\n"
    )
    fake.chmod(0o755)
    monkeypatch.setenv("PATH", str(bin_dir))
    # WHEN the image is built for real
    result = CliRunner().invoke(main, ["--summary", in_repo])
    # THEN one line says why, and that --dry-run only prints
    assert result.exit_code == 1
    assert result.output.splitlines()[-1] == (
        "Error: no Docker engine (Cannot connect to the Docker daemon at "
        "unix:///var/run/docker.sock. Is the docker daemon running?): building the "
        "image needs a Docker engine (the commands above are what would run; "
        "--dry-run only prints them)"
    )


def test_the_context_holds_the_bento_its_models_readable_and_the_wheels(
    tmp_path: Path,
) -> None:
    # GIVEN a stored bento and a model whose files are private, as the store keeps them
    bento = tmp_path / "store" / "bento"
    (bento / "env" / "docker").mkdir(parents=True)
    entrypoint = bento / "env" / "docker" / "entrypoint.sh"
    entrypoint.write_text("#!/bin/sh\n")
    entrypoint.chmod(0o700)
    model = tmp_path / "store" / "model"
    model.mkdir()
    (model / "estimator.pkl").write_bytes(b"pickle")
    (model / "estimator.pkl").chmod(0o600)
    wheelhouse = tmp_path / "wheelhouse"
    wheelhouse.mkdir()
    (wheelhouse / "requirements.txt").write_text("numpy==2.0\n")
    (wheelhouse / "numpy-2.0-py3-none-any.whl").write_bytes(b"wheel")
    context = tmp_path / "context"
    # WHEN the build context is assembled
    assemble_context(
        BentoFiles(bento=bento, models={"rec:v1": model}), wheelhouse, context
    )
    # THEN the model sits where `bentoml serve <bento>` looks, readable by any user
    packed = context / "bento" / "models" / "rec" / "v1" / "estimator.pkl"
    assert packed.read_bytes() == b"pickle"
    assert packed.stat().st_mode & 0o444 == 0o444
    assert (context / "bento" / "models" / "rec" / "latest").read_text() == "v1"
    assert os.access(context / "bento/env/docker/entrypoint.sh", os.X_OK)
    copied = context / "bento/env/docker/entrypoint.sh"
    assert copied.stat().st_mode & 0o555 == 0o555
    assert (context / "wheelhouse" / "numpy-2.0-py3-none-any.whl").exists()


def test_a_missing_wheelhouse_points_at_make_wheelhouse(tmp_path: Path) -> None:
    with pytest.raises(click.ClickException) as err:
        assemble_context(
            BentoFiles(bento=tmp_path, models={}), tmp_path / "none", tmp_path / "c"
        )
    assert err.value.message == (
        f"no wheelhouse at {tmp_path / 'none'} (no requirements.txt): "
        "run `make wheelhouse` first"
    )


def test_a_run_that_packaged_nothing_is_a_green_no_op(tmp_path: Path) -> None:
    summary = tmp_path / "packaging_summary.json"
    summary.write_text(
        json.dumps({"packaged": False, "reason": "this run did not register ease"})
    )
    result = CliRunner().invoke(main, ["--summary", summary])
    assert result.exit_code == 0, result.output
    assert result.output.strip() == (
        "nothing to build: the last run packaged no bento: "
        "this run did not register ease"
    )


def test_an_archived_bento_gives_the_same_context_as_the_store(tmp_path: Path) -> None:
    # GIVEN a stored bento and its private model, archived as a cluster run does
    bento = tmp_path / "store" / "bento"
    (bento / "env" / "docker").mkdir(parents=True)
    (bento / "env" / "docker" / "entrypoint.sh").write_text("#!/bin/sh\n")
    (bento / "env" / "docker" / "entrypoint.sh").chmod(0o700)
    model = tmp_path / "store" / "model"
    model.mkdir()
    (model / "estimator.pkl").write_bytes(b"pickle")
    (model / "estimator.pkl").chmod(0o600)
    wheelhouse = tmp_path / "wheelhouse"
    wheelhouse.mkdir()
    (wheelhouse / "requirements.txt").write_text("numpy==2.0\n")
    archive = tmp_path / "data-root" / "bentos" / "rec-v1.tar"
    write_bento_archive(bento, {"rec:v1": model}, str(archive))
    # WHEN one context comes from the store, the other from the archive
    from_store, from_archive = tmp_path / "a", tmp_path / "b"
    assemble_context(
        BentoFiles(bento=bento, models={"rec:v1": model}), wheelhouse, from_store
    )
    extract_archive(str(archive), wheelhouse, from_archive)

    # THEN they hold the same files, as readable
    def listing(root: Path) -> dict[str, tuple[bytes, int]]:
        return {
            p.relative_to(root).as_posix(): (p.read_bytes(), p.stat().st_mode & 0o555)
            for p in sorted(root.rglob("*"))
            if p.is_file()
        }

    assert listing(from_archive) == listing(from_store)
    assert "bento/models/rec/v1/estimator.pkl" in listing(from_archive)


def test_an_unreadable_archive_is_one_line(tmp_path: Path) -> None:
    wheelhouse = tmp_path / "wheelhouse"
    wheelhouse.mkdir()
    (wheelhouse / "requirements.txt").write_text("")
    missing = tmp_path / "none.tar"
    with pytest.raises(click.ClickException) as err:
        extract_archive(str(missing), wheelhouse, tmp_path / "c")
    assert err.value.message.startswith(
        f"cannot read the bento archive {missing}: FileNotFoundError"
    )
