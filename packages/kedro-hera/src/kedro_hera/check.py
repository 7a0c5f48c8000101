"""Comparison of committed manifests with a fresh compilation (``kedro argo check``)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import yaml

from kedro_hera._project import git_sha, load_env, load_project
from kedro_hera.compile import HEADER_MARKER, Manifest, compile_env, project_envs

if TYPE_CHECKING:
    from collections.abc import Iterable, Mapping, Sequence
    from pathlib import Path

__all__ = ["GIT_SHA_ANNOTATION", "Drift", "check_project", "generated_files"]

GIT_SHA_ANNOTATION = "kedro-hera/git-sha"


@dataclass(frozen=True)
class Drift:
    """Differences between committed manifests and a fresh compilation.

    Attributes:
        stale: Files whose content differs.
        missing: Files that should exist.
        extra: Generated files that are no longer generated.
        diffs: A unified diff per stale file.
    """

    stale: tuple[str, ...] = ()
    missing: tuple[str, ...] = ()
    extra: tuple[str, ...] = ()
    diffs: Mapping[str, str] = field(default_factory=dict)

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


def _stamp(text: str) -> str | None:
    try:
        document = yaml.safe_load(text)
    except yaml.YAMLError:
        return None
    if not isinstance(document, dict):
        return None
    annotations = (document.get("metadata") or {}).get("annotations") or {}
    value = annotations.get(GIT_SHA_ANNOTATION)
    return str(value) if value else None


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

    The git SHA is provenance, not content: a committed file is compared with a
    compilation stamped with the SHA it records (``kedro-hera/git-sha``), so moving
    HEAD does not make it stale, while any other change does.

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
    current = git_sha(project.path)
    snapshots = {env: load_env(project, env) for env in env_names}
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
    stale, diffs = [], {}
    for path, manifest in sorted(expected.items()):
        file = output_dir / path
        if not file.is_file():
            continue
        text = file.read_text(encoding="utf-8")
        if text == manifest.text:
            continue
        stamp = _stamp(text)
        env = path.split("/", 1)[0]
        if stamp and stamp != current:
            restamped = compiled(env, stamp).get(path)
            if restamped is not None and restamped.text == text:
                continue
            manifest = restamped or manifest  # noqa: PLW2901 - diff the closest match
        stale.append(path)
        diffs[path] = _diff(path, text, manifest.text)
    missing = sorted(path for path in expected if not (output_dir / path).is_file())
    extra = sorted(path for path in existing if path not in expected)
    return Drift(tuple(stale), tuple(missing), tuple(extra), diffs)
