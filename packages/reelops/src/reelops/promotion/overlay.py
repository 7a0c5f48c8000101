"""Keep each kustomize overlay's serving image equal to its environment file.

``kedro promote`` writes both in the same change; ``python -m
reelops.promotion.overlay`` (run by ``make deploy-check``) fails when they differ.

An image is ``repository:tag`` or, once it was pushed, ``repository:tag@sha256:...``:
the overlay then carries kustomize's ``digest:`` beside ``newTag:``, and the
Deployment runs exactly the image that was pushed, whatever the tag points at later.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

import click
import yaml

from reelops.errors import ConfigError
from reelops.promotion.environment import ENVIRONMENT_ALIASES, load_environment

__all__ = [
    "UNPROMOTED_TAG",
    "main",
    "overlay_image",
    "overlay_repository",
    "set_overlay_image",
    "split_image",
]

#: The image tag of an overlay whose environment serves no model yet.
UNPROMOTED_TAG = "v0-unpromoted"
_IMAGE_NAME = "reelops-serving"
_BLOCK = re.compile(
    r"(?P<head>- name: " + _IMAGE_NAME + r"\n)(?P<body>(?:[ \t]+\S.*\n)+)"
)


_DIGEST = re.compile(r"^sha256:[0-9a-f]{64}$")


def split_image(image: str) -> tuple[str, str, str | None]:
    """``(repository, tag, digest or None)`` of ``repository:tag[@sha256:...]``.

    Raises:
        ConfigError: ``image`` has no tag, or a digest that is not ``sha256:<hex>``.
    """
    ref, _, digest = image.partition("@")
    name, _, tag = ref.rpartition(":")
    if not name or not tag or "/" in tag or (digest and not _DIGEST.match(digest)):
        raise ConfigError(
            f"image must be 'repository:tag' or 'repository:tag@sha256:<64 hex>', "
            f"got '{image}'"
        )
    return name, tag, digest or None


def overlay_image(text: str) -> str:
    """``newName:newTag[@digest]`` of the serving image in a kustomization's text."""
    doc = yaml.safe_load(text) or {}
    for image in doc.get("images", []):
        if image.get("name") == _IMAGE_NAME:
            digest = f"@{image['digest']}" if image.get("digest") else ""
            return f"{image['newName']}:{image['newTag']}{digest}"
    raise ConfigError(f"kustomization has no images entry named '{_IMAGE_NAME}'")


def overlay_repository(text: str) -> str:
    """``newName`` of the serving image in a kustomization's text."""
    return split_image(overlay_image(text))[0]


def set_overlay_image(text: str, image: str) -> str:
    """The kustomization text with the serving image set to ``image``.

    Only ``newName``, ``newTag`` and ``digest`` change (``digest`` is added after
    ``newTag`` or removed as ``image`` has one or not), so comments and layout are
    kept.
    """
    name, tag, digest = split_image(image)
    match = _BLOCK.search(text)
    if match is None or re.search(r"^[ \t]+newTag:", match["body"], re.M) is None:
        raise ConfigError(
            f"cannot set image '{image}': expected an images entry named "
            f"'{_IMAGE_NAME}' with newName and newTag"
        )
    body = re.sub(r"(newName:\s*)\S+", lambda m: m.group(1) + name, match["body"])
    body = re.sub(r"^[ \t]+digest:.*\n", "", body, flags=re.M)

    def tag_and_digest(m: re.Match[str]) -> str:
        pin = f"{m['indent']}digest: {digest}\n" if digest else ""
        return f"{m['indent']}newTag: {tag}\n{pin}"

    body = re.sub(
        r"^(?P<indent>[ \t]+)newTag:.*\n", tag_and_digest, body, count=1, flags=re.M
    )
    return text[: match.start("body")] + body + text[match.end("body") :]


def _expected(env_file: Path, current: str) -> str:
    model = load_environment(env_file).model
    if model is not None and model.image:
        return model.image
    return f"{split_image(current)[0]}:{UNPROMOTED_TAG}"


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
