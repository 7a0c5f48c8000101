"""``python -m reelops.serving_image``: the serving image of the bento the run packaged.

The image a promotion writes into ``deploy/environments/<env>.yaml`` is
:meth:`~reelops.promotion.gates.PromotionConfig.image_for` the bento
(``<serving_image>:<bento version>``, ``conf/base/promotion.yml``).
This command builds exactly that image from the bento of the last packaging run
(``data/08_reporting/packaging_summary.json``), so that the image a merge deploys
exists before the promotion that names it::

    python -m reelops.serving_image --dry-run   # print the commands, run nothing
    python -m reelops.serving_image             # docker build (needs a Docker engine)
    python -m reelops.serving_image --push      # ... and docker push

The build context (``build/serving-image/``) holds ``bento/`` (the bento from the
BentoML store with its models, as ``bentoml export`` lays them out) and
``wheelhouse/`` (``make wheelhouse``); ``deploy/serving.Dockerfile`` installs the
bento's pinned requirements from the wheelhouse with no package index and runs the
bento's own entrypoint (``bentoml serve``).

``--push`` also records where the push landed: the registry digest of the image
(``docker inspect``'s ``RepoDigests``) goes to the MLflow run of the model as run tag
``serving.image`` (``<image>:<tag>@sha256:...``), where ``kedro promote`` reads it
and pins the overlay by digest. A build without ``--push`` (local, ``--dry-run``)
records nothing, and promotion names the image by its tag.

``make serving-image`` runs it (``IMAGE_FLAGS=--push`` in the main workflow). A run
that packaged nothing (no better model) is a green no-op that says why. Errors are
one line: no packaging summary, a bento missing from the store, no wheelhouse, no
Docker engine.
"""

from __future__ import annotations

import importlib.resources
import json
import os
import shutil
import subprocess
import tarfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import yaml

from reelops._pydantic import parse_config
from reelops.errors import ConfigError
from reelops.promotion.gates import PUSHED_IMAGE_TAG, PromotionConfig
from reelops.promotion.overlay import split_image

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

__all__ = [
    "BentoFiles",
    "assemble_context",
    "bento_tag",
    "docker_engine_problem",
    "extract_archive",
    "image_commands",
    "main",
    "pushed_digest",
    "registry_bento",
]

SUMMARY = Path("data/08_reporting/packaging_summary.json")
PROMOTION = Path("conf/base/promotion.yml")
DOCKERFILE = Path("deploy/serving.Dockerfile")
WHEELHOUSE = Path("build/wheelhouse")
CONTEXT = Path("build/serving-image")
#: The bento's name is that of the bentofile the packaging pipeline builds with.
BENTOFILE = importlib.resources.files("reelops_serving") / "bento" / "bentofile.yaml"


@dataclass(frozen=True)
class BentoFiles:
    """Where a stored bento and the models it packs are on disk."""

    bento: Path
    models: dict[str, Path]  # "<name>:<version>" -> model directory


def bento_tag(summary: dict[str, Any], bento_name: str) -> str:
    """``<bento name>:<version>`` of a packaging summary that packaged a bento.

    Raises:
        click.ClickException: The run packaged nothing (with its reason).
    """
    if not summary.get("packaged") or not summary.get("bento_version"):
        reason = summary.get("reason") or "no bento_version in the summary"
        raise click.ClickException(f"the last run packaged no bento: {reason}")
    return f"{bento_name}:{summary['bento_version']}"


def image_commands(
    context: Path,
    dockerfile: Path,
    image: str,
    *,
    base_image: str | None,
    push: bool,
) -> list[list[str]]:
    """The commands that build ``image`` from ``context`` (and push it)."""
    base = ["--build-arg", f"PYTHON_IMAGE={base_image}"] if base_image else []
    build = ["docker", "build", "--file", str(dockerfile), *base, "--tag", image]
    commands = [[*build, str(context)]]
    if push:
        commands.append(["docker", "push", image])
    return commands


def _copy_readable(source: Path, target: Path) -> None:
    """Copy a tree, every file and directory readable by all.

    The store keeps model files private (0600); the image copies them owned by root,
    so the server's own user must be able to read them (and run what its owner can).
    """
    shutil.copytree(source, target, dirs_exist_ok=True)
    _make_readable(target)


def _make_readable(root: Path) -> None:
    """Make all under ``root`` readable by all (and runnable, where its owner can)."""
    for path in [root, *root.rglob("*")]:
        mode = path.stat().st_mode
        path.chmod(mode | (0o555 if path.is_dir() or mode & 0o100 else 0o444))


def _fresh_context(wheelhouse: Path, context: Path) -> None:
    """An empty ``context`` directory, once the wheelhouse is known to be there.

    Raises:
        click.ClickException: The wheelhouse is missing or incomplete.
    """
    if not (wheelhouse / "requirements.txt").is_file():
        raise click.ClickException(
            f"no wheelhouse at {wheelhouse} (no requirements.txt): "
            "run `make wheelhouse` first"
        )
    shutil.rmtree(context, ignore_errors=True)
    context.mkdir(parents=True)


def assemble_context(files: BentoFiles, wheelhouse: Path, context: Path) -> None:
    """Lay out ``context``: the bento with its models, and the wheelhouse.

    Raises:
        click.ClickException: The wheelhouse is missing or incomplete.
    """
    _fresh_context(wheelhouse, context)
    _copy_readable(files.bento, context / "bento")
    for tag, path in files.models.items():
        name, version = tag.split(":", 1)
        _copy_readable(path, context / "bento" / "models" / name / version)
        latest = context / "bento" / "models" / name / "latest"
        latest.write_text(version, encoding="utf-8")
        latest.chmod(0o644)
    # Wheels are hard-linked where the filesystem allows it (hundreds of MB).
    try:
        shutil.copytree(wheelhouse, context / "wheelhouse", copy_function=os.link)
    except OSError:
        shutil.rmtree(context / "wheelhouse", ignore_errors=True)
        shutil.copytree(wheelhouse, context / "wheelhouse")


def stored_bento(tag: str) -> BentoFiles:
    """The bento ``tag`` and its models in the BentoML store (``BENTOML_HOME``).

    Raises:
        click.ClickException: The bento or one of its models is not in the store.
    """
    import bentoml
    from bentoml.exceptions import NotFound

    home = os.environ.get("BENTOML_HOME", "~/bentoml")
    try:
        bento = bentoml.bentos.get(tag)
        models = {
            str(info.tag): Path(bentoml.models.get(info.tag).path)
            for info in bento.info.all_models
        }
    except NotFound as exc:
        raise click.ClickException(
            f"not in the BentoML store at {home}: {exc} "
            "(run `make run` to package a bento)"
        ) from exc
    return BentoFiles(bento=Path(bento.path), models=models)


def docker_engine_problem() -> str | None:
    """Why no image can be built here (no docker CLI, no engine), or ``None``."""
    if shutil.which("docker") is None:
        return "docker not found"
    proc = subprocess.run(
        ["docker", "info", "--format", "{{.ServerVersion}}"],
        capture_output=True,
        text=True,
        check=False,
    )
    if proc.returncode != 0:
        detail = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        return f"no Docker engine ({detail})"
    return None


def _read_yaml(path: Path | Traversable) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise click.ClickException(
            f"cannot read {path}: {type(exc).__name__}: {exc}"
        ) from exc


def extract_archive(archive: str, wheelhouse: Path, context: Path) -> None:
    """Lay out ``context`` from a bento archive (fsspec URL) and the wheelhouse.

    Raises:
        click.ClickException: The archive cannot be read, or the wheelhouse is
            missing.
    """
    import fsspec

    _fresh_context(wheelhouse, context)
    try:
        with (
            fsspec.open(archive, "rb") as raw,
            tarfile.open(fileobj=raw, mode="r|") as tar,
        ):
            tar.extractall(context, filter="data")
    except (OSError, tarfile.TarError) as exc:
        raise click.ClickException(
            f"cannot read the bento archive {archive}: {type(exc).__name__}: {exc}"
        ) from exc
    _make_readable(context / "bento")
    shutil.copytree(wheelhouse, context / "wheelhouse")


def _tracking_uri() -> str:
    import mlflow

    mlflow.set_tracking_uri(
        os.environ.get("MLFLOW_TRACKING_URI", "sqlite:///mlflow.db")
    )
    return mlflow.get_tracking_uri()


def registry_bento(
    alias: str, env: str
) -> tuple[str | None, str | None, str, str | None]:
    """(bento tag, archive URL, reason, run id) of the version behind ``alias``.

    The tags are the ones packaging recorded on the version's MLflow run; a version
    packaged nothing when the tag is ``None`` (``reason`` says why).

    Raises:
        click.ClickException: No such alias, or the tracking server is unreachable.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    from reelops.config import make_config_loader, project_root

    promotion = make_config_loader(project_root() / "conf", env)["promotion"]
    name = str(promotion["model_name"])
    _tracking_uri()
    client = mlflow.MlflowClient()
    try:
        version = client.get_model_version_by_alias(name, alias)
        tags = client.get_run(str(version.run_id)).data.tags
    except MlflowException as exc:
        raise click.ClickException(
            f"cannot read {name}@{alias} from {mlflow.get_tracking_uri()}: "
            f"{exc.message}"
        ) from exc
    run_id = str(version.run_id)
    if tags.get("serving.packaged") != "true":
        reason = tags.get("serving.skipped_because", "no serving tags on its run")
        return (
            None,
            None,
            f"{name} v{version.version} packaged no bento: {reason}",
            run_id,
        )
    return tags.get("serving.bento_tag"), tags.get("serving.bento_archive"), "", run_id


def summary_bento(summary: Path) -> tuple[str | None, None, str, str | None]:
    """(bento tag, no archive, reason, run id) of the last local packaging run.

    Raises:
        click.ClickException: No readable packaging summary.
    """
    try:
        data = json.loads(summary.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise click.ClickException(
            f"no readable packaging summary at {summary} ({type(exc).__name__}): "
            "run `make run` (or `kedro run --pipeline packaging`) first"
        ) from exc
    if not data.get("packaged"):
        reason = data.get("reason") or "no reason recorded"
        return None, None, f"the last run packaged no bento: {reason}", None
    run_id = (data.get("labels") or {}).get("mlflow_run_id")
    return bento_tag(data, str(_read_yaml(BENTOFILE)["name"])), None, "", run_id


def pushed_digest(image: str) -> str:
    """``sha256:...``: the registry digest of ``image`` once ``docker push`` ran.

    Raises:
        click.ClickException: Docker knows no digest of the image in its repository.
    """
    repository = split_image(image)[0]
    proc = subprocess.run(
        ["docker", "image", "inspect", "--format", "{{json .RepoDigests}}", image],
        capture_output=True,
        text=True,
        check=False,
    )
    digests = json.loads(proc.stdout or "null") if proc.returncode == 0 else None
    for ref in digests or []:
        name, _, digest = str(ref).partition("@")
        if name == repository and digest.startswith("sha256:"):
            return digest
    detail = proc.stderr.strip() or f"RepoDigests {digests}"
    raise click.ClickException(
        f"no registry digest of {image} after docker push ({detail})"
    )


def record_pushed_image(run_id: str | None, pinned: str) -> None:
    """Tag the model's MLflow run ``serving.image=<pinned>`` for ``kedro promote``.

    Raises:
        click.ClickException: No run to tag, or the tracking server refused it.
    """
    import mlflow
    from mlflow.exceptions import MlflowException

    if not run_id:
        raise click.ClickException(
            f"pushed {pinned}, but the packaging summary names no MLflow run "
            "(labels.mlflow_run_id) to record it on: promotion would name it by tag"
        )
    uri = _tracking_uri()
    try:
        mlflow.MlflowClient().set_tag(run_id, PUSHED_IMAGE_TAG, pinned)
    except MlflowException as exc:
        raise click.ClickException(
            f"cannot record {PUSHED_IMAGE_TAG}={pinned} on run {run_id} at {uri}: "
            f"{exc.message}"
        ) from exc


def _in_store(tag: str) -> bool:
    import bentoml
    from bentoml.exceptions import NotFound

    try:
        bentoml.bentos.get(tag)
    except NotFound:
        return False
    return True


@click.command()
@click.option("--push", is_flag=True, help="docker push the image after building it.")
@click.option("--dry-run", is_flag=True, help="Print the commands, run nothing.")
@click.option(
    "--summary",
    type=click.Path(path_type=Path),
    default=SUMMARY,
    show_default=True,
    help="The packaging summary of the run.",
)
@click.option(
    "--from-registry",
    "alias",
    default=None,
    help="Build the bento of the version behind this alias (e.g. challenger), from "
    "the BentoML store or the archive its run recorded, instead of the last run's.",
)
@click.option(
    "--env",
    "kedro_env",
    envvar="ENV",
    default="local",
    show_default=True,
    help="Kedro env whose promotion.yml names the model (with --from-registry).",
)
@click.option(
    "--base-image",
    envvar="PYTHON_IMAGE",
    default=None,
    help="Base image (the Dockerfile's PYTHON_IMAGE default when unset).",
)
@click.option(
    "--wheelhouse",
    type=click.Path(path_type=Path),
    default=WHEELHOUSE,
    show_default=True,
)
@click.option(
    "--context",
    type=click.Path(path_type=Path),
    default=CONTEXT,
    show_default=True,
)
def main(
    *,
    push: bool,
    dry_run: bool,
    summary: Path,
    alias: str | None,
    kedro_env: str,
    base_image: str | None,
    wheelhouse: Path,
    context: Path,
) -> None:
    """Build (and push) the serving image of the last packaged bento."""
    tag, archive, reason, run_id = (
        registry_bento(alias, kedro_env) if alias else summary_bento(summary)
    )
    if tag is None:
        # No better model, so no bento: nothing to build, and not a failure.
        click.echo(f"nothing to build: {reason}")
        return
    try:
        config = parse_config(PromotionConfig, _read_yaml(PROMOTION), str(PROMOTION))
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    image = config.image_for(tag)
    commands = image_commands(
        context, DOCKERFILE, image, base_image=base_image or None, push=push
    )
    source = archive if archive and not _in_store(tag) else "the BentoML store"
    click.echo(
        f"# context {context}: bento {tag} with its models ({source}), "
        f"wheelhouse {wheelhouse}"
    )
    for command in commands:
        click.echo(" ".join(command))
    if dry_run:
        return
    if problem := docker_engine_problem():
        raise click.ClickException(
            f"{problem}: building the image needs a Docker engine "
            "(the commands above are what would run; --dry-run only prints them)"
        )
    if source == archive and archive:
        extract_archive(archive, wheelhouse, context)
    else:
        assemble_context(stored_bento(tag), wheelhouse, context)
    for command in commands:
        if subprocess.run(command, check=False).returncode != 0:
            raise click.ClickException(f"failed: {' '.join(command)}")
    click.echo(f"built {image}")
    if push:
        pinned = f"{image}@{pushed_digest(image)}"
        record_pushed_image(run_id, pinned)
        click.echo(f"pushed {pinned} (run tag {PUSHED_IMAGE_TAG} of {run_id})")


if __name__ == "__main__":  # pragma: no cover
    main()
