"""Keep each kustomize overlay's serving image equal to its environment file.

``kedro promote`` writes both in the same change; ``python -m
reelops.promotion.overlay`` (run by ``make deploy-check``) fails when they differ.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import click
import yaml

from reelops.errors import ConfigError
from reelops.promotion.environment import ENVIRONMENT_ALIASES, load_environment

__all__ = ["UNPROMOTED_TAG", "main", "overlay_image", "set_overlay_image"]

#: The image tag of an overlay whose environment serves no model yet.
UNPROMOTED_TAG = "v0-unpromoted"
_IMAGE_NAME = "reelops-serving"
_BLOCK = re.compile(
    r"(?P<head>- name: " + _IMAGE_NAME + r"\n)(?P<body>(?:[ \t]+\S.*\n)+)"
)


def overlay_image(text: str) -> str:
    """``newName:newTag`` of the serving image in a kustomization's text."""
    doc = yaml.safe_load(text) or {}
    for image in doc.get("images", []):
        if image.get("name") == _IMAGE_NAME:
            return f"{image['newName']}:{image['newTag']}"
    raise ConfigError(f"kustomization has no images entry named '{_IMAGE_NAME}'")


def set_overlay_image(text: str, image: str) -> str:
    """The kustomization text with the serving image set to ``image``.

    Only the two lines change, so comments and layout are kept.
    """
    name, _, tag = image.rpartition(":")
    match = _BLOCK.search(text)
    if match is None or not name:
        raise ConfigError(
            f"cannot set image '{image}': expected 'repository:tag' and an images "
            f"entry named '{_IMAGE_NAME}'"
        )
    body = re.sub(r"(newName:\s*)\S+", lambda m: m.group(1) + name, match["body"])
    body = re.sub(r"(newTag:\s*)\S+", lambda m: m.group(1) + tag, body)
    return text[: match.start("body")] + body + text[match.end("body") :]


def _expected(env_file: Path, current: str) -> str:
    model = load_environment(env_file).model
    if model is not None and model.image:
        return model.image
    return f"{current.rpartition(':')[0]}:{UNPROMOTED_TAG}"


@click.command()
@click.option("--environments", default="deploy/environments", show_default=True)
@click.option("--overlays", default="deploy/overlays", show_default=True)
def main(environments: str, overlays: str) -> None:
    """Fail when an overlay's serving image differs from its environment file."""
    problems = []
    for env in ENVIRONMENT_ALIASES:
        kustomization = Path(overlays) / env / "kustomization.yaml"
        current = overlay_image(kustomization.read_text(encoding="utf-8"))
        expected = _expected(Path(environments) / f"{env}.yaml", current)
        if current != expected:
            problems.append(
                f"{kustomization}: image {current}, {env}.yaml says {expected}"
            )
        else:
            click.echo(f"{env}: {current}")
    if problems:
        raise click.ClickException("; ".join(problems))


if __name__ == "__main__":
    sys.exit(main())
