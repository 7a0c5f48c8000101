"""``python -m reelops.serving_image``: the serving image of the bento the run packaged.

The image a promotion writes into ``deploy/environments/<env>.yaml`` is
:meth:`~reelops.promotion.gates.PromotionConfig.image_for` the bento
(``<serving_image>:<bento version>``, ``conf/base/promotion.yml``).
This command builds exactly that image from the bento of the last packaging run
(``data/08_reporting/packaging_summary.json``), so that the image a merge deploys
exists before the promotion that names it::

    python -m reelops.serving_image --dry-run   # print the commands, run nothing
    python -m reelops.serving_image             # bentoml containerize (needs Docker)
    python -m reelops.serving_image --push      # ... and docker push

``make serving-image`` runs it (``IMAGE_FLAGS=--push`` in the main workflow). Errors
are one line: no packaging summary, a run that packaged nothing, no Docker engine.
"""

from __future__ import annotations

import importlib.resources
import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
import yaml

from reelops._pydantic import parse_config
from reelops.errors import ConfigError
from reelops.promotion.gates import PromotionConfig

if TYPE_CHECKING:
    from importlib.resources.abc import Traversable

__all__ = ["bento_tag", "image_commands", "main"]

SUMMARY = Path("data/08_reporting/packaging_summary.json")
PROMOTION = Path("conf/base/promotion.yml")
#: The bento's name is that of the bentofile the packaging pipeline builds with.
BENTOFILE = importlib.resources.files("reelops_serving") / "bento" / "bentofile.yaml"


def bento_tag(summary: dict[str, Any], bento_name: str) -> str:
    """``<bento name>:<version>`` of a packaging summary that packaged a bento.

    Raises:
        click.ClickException: The run packaged nothing (with its reason).
    """
    if not summary.get("packaged") or not summary.get("bento_version"):
        reason = summary.get("reason") or "no bento_version in the summary"
        raise click.ClickException(f"the last run packaged no bento: {reason}")
    return f"{bento_name}:{summary['bento_version']}"


def image_commands(tag: str, image: str, *, push: bool) -> list[list[str]]:
    """The commands that build ``image`` from the bento ``tag`` (and push it)."""
    commands = [["bentoml", "containerize", tag, "--image-tag", image]]
    if push:
        commands.append(["docker", "push", image])
    return commands


def _read_yaml(path: Path | Traversable) -> Any:
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise click.ClickException(
            f"cannot read {path}: {type(exc).__name__}: {exc}"
        ) from exc


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
def main(push: bool, dry_run: bool, summary: Path) -> None:
    """Build (and push) the serving image of the last packaged bento."""
    try:
        data = json.loads(summary.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise click.ClickException(
            f"no readable packaging summary at {summary} ({type(exc).__name__}): "
            "run `make run` (or `kedro run --pipeline packaging`) first"
        ) from exc
    tag = bento_tag(data, str(_read_yaml(BENTOFILE)["name"]))
    try:
        config = parse_config(PromotionConfig, _read_yaml(PROMOTION), str(PROMOTION))
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    commands = image_commands(tag, config.image_for(tag), push=push)
    for command in commands:
        click.echo(" ".join(command))
    if dry_run:
        return
    if shutil.which("docker") is None:
        raise click.ClickException(
            "docker not found: building the image needs a Docker engine "
            "(the commands above are what would run)"
        )
    for command in commands:
        executable = str(Path(sys.executable).parent / "bentoml")
        argv = [executable, *command[1:]] if command[0] == "bentoml" else command
        if subprocess.run(argv, check=False).returncode != 0:
            raise click.ClickException(f"failed: {' '.join(command)}")


if __name__ == "__main__":  # pragma: no cover
    main()
