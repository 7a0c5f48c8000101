"""Comparison of committed manifests with a fresh compilation (``kedro argo check``)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import yaml

from kedro_hera._build import IMAGE_ANNOTATION
from kedro_hera._project import git_sha, load_env, load_project
from kedro_hera.compile import HEADER_MARKER, Manifest, compile_env, project_envs
from kedro_hera.image import cached_content_tag

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence
    from pathlib import Path

    from kedro_hera._project import EnvSnapshot

__all__ = ["Drift", "ImageDrift", "check_project", "generated_files"]


@dataclass(frozen=True)
class ImageDrift:
    """A committed manifest naming another image than a fresh compilation.

    Attributes:
        committed: Image the committed file names.
        expected: Image a fresh compilation names.
        source: Where the expected tag comes from (e.g. the content hash of
            ``image.tag_from``).
    """

    committed: str
    expected: str
    source: str

    def describe(self) -> str:
        """One line: which image, which one was expected, and why."""
        return (
            f"image {self.committed} is stale: expected {self.expected}, "
            f"from {self.source}"
        )


@dataclass(frozen=True)
class Drift:
    """Differences between committed manifests and a fresh compilation.

    Attributes:
        stale: Files whose content differs.
        missing: Files that should exist.
        extra: Generated files that are no longer generated.
        diffs: A unified diff per stale file.
        images: Distinct stale image references among the stale files.
    """

    stale: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()
    diffs: Mapping[str, str] = field(default_factory=dict)
    images: tuple[ImageDrift, ...] = ()

    def __bool__(self) -> bool:
        """Tell whether anything differs."""
        return bool(self.stale or self.missing or self.extra)


def generated_files(output_dir: Path, envs: Iterable[str] | None = None) -> list[str]:
    """List the files kedro-hera generated below ``output_dir``.

    Args:
        output_dir: The ``argo/`` directory.
        envs: Restrict to these env sub-directories.

    Returns:
        Relative POSIX paths of YAML files starting with the generated header.
    """
    if not output_dir.is_dir():
        return []
    dirs = (
        [output_dir / env for env in envs]
        if envs is not None
        else [p for p in output_dir.iterdir() if p.is_dir()]
    )
    found = []
    for directory in dirs:
        if not directory.is_dir():
            continue
        for path in directory.iterdir():
            if path.suffix in {".yaml", ".yml"} and path.is_file():
                with path.open(encoding="utf-8") as handle:
                    first = handle.readline()
                if first.startswith(HEADER_MARKER):
                    found.append(path.relative_to(output_dir).as_posix())
    return sorted(found)


def _image(text: str) -> str | None:
    """The image a manifest names (its ``kedro-hera/image`` annotation)."""
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    if not isinstance(document, dict):
        return None
    annotations = (document.get("metadata") or {}).get("annotations") or {}
    value = annotations.get(IMAGE_ANNOTATION)
    return str(value) if value else None


def _tag(image: str) -> str:
    """The tag of ``repository:tag`` (a registry port has no '/' after it)."""
    repository, sep, tag = image.rpartition(":")
    return tag if sep and "/" not in tag and repository else ""


def _diff(path: str, old: str, new: str) -> str:
    lines = difflib.unified_diff(
        old.splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile=f"committed/{path}",
        tofile=f"compiled/{path}",
        n=1,
    )
    return "".join(lines)


def check_project(
    project_path: Path,
    output_dir: Path,
    *,
    envs: Sequence[str] | None = None,
) -> Drift:
    """Compare ``output_dir`` with a fresh compilation.

    Nothing in the manifests depends on the commit, except the image tag of an env
    whose argo.yml resolves none (it is then the git SHA): such a file is compared
    with a compilation tagged with the SHA its image names, so moving HEAD does not
    make it stale, while any other change does. A content-addressed tag
    (``image.tag_from``) is content: a stale one makes the files stale.

    Args:
        project_path: Root of the Kedro project.
        output_dir: The ``argo/`` directory.
        envs: Environments to check; defaults to every env with an ``argo.yml``
            (then generated files of other env directories count as extra).

    Returns:
        The drift (falsy when everything is up to date).
    """
    project = load_project(project_path)
    env_names = project_envs(project, envs)
    hasher = cached_content_tag()
    snapshots = {env: load_env(project, env, hasher=hasher) for env in env_names}
    needs_sha = any(s.image_tag.tag is None for s in snapshots.values())
    current = git_sha(project.path) if needs_sha else "unknown"
    cache: dict[tuple[str, str], dict[str, Manifest]] = {}

    def compiled(env: str, sha: str) -> dict[str, Manifest]:
        if (env, sha) not in cache:
            result = compile_env(project, snapshots[env], sha=sha)
            cache[(env, sha)] = {m.path: m for m in result.manifests}
        return cache[(env, sha)]

    expected = {
        path: m for env in env_names for path, m in compiled(env, current).items()
    }
    existing = generated_files(output_dir, None if envs is None else env_names)
    stale: list[str] = []
    diffs: dict[str, str] = {}
    images: dict[str, ImageDrift] = {}
    for path, manifest in sorted(expected.items()):
        file = output_dir / path
        if not file.is_file():
            continue
        text = file.read_text(encoding="utf-8")
        if text == manifest.text:
            continue
        snapshot = snapshots[path.split("/", 1)[0]]
        closest = _closest(snapshot, text, manifest, compiled, current)
        if closest is None:
            continue
        stale.append(path)
        diffs[path] = _diff(path, text, closest.text)
        drift = _image_drift(snapshot, text, closest.text)
        if drift is not None:
            images.setdefault(drift.committed, drift)
    missing = sorted(path for path in expected if not (output_dir / path).is_file())
    extra = sorted(path for path in existing if path not in expected)
    return Drift(
        tuple(stale), tuple(missing), tuple(extra), diffs, tuple(images.values())
    )


def _closest(
    snapshot: EnvSnapshot,
    text: str,
    manifest: Manifest,
    compiled: Callable[[str, str], dict[str, Manifest]],
    current: str,
) -> Manifest | None:
    """The compilation to diff ``text`` with, or None when ``text`` is up to date.

    When the env's tag is the git SHA, the file is compared with a compilation
    tagged with the SHA it names.
    """
    if snapshot.image_tag.tag is not None:
        return manifest
    image = _image(text)
    recorded = _tag(image) if image else ""
    if not recorded or recorded == current:
        return manifest
    restamped = compiled(snapshot.env, recorded).get(manifest.path)
    if restamped is not None and restamped.text == text:
        return None
    return restamped or manifest


def _image_drift(snapshot: EnvSnapshot, old: str, new: str) -> ImageDrift | None:
    committed, expected = _image(old), _image(new)
    if committed is None or expected is None or committed == expected:
        return None
    return ImageDrift(committed, expected, snapshot.image_tag.describe())
