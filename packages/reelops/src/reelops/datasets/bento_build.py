"""``BentoDataset``: build a bento from ``bentofile.yaml``; load the newest one.

Saving a :class:`BentoBuildSpec` runs ``bentoml build`` in a subprocess (the same
command a developer runs) on a build context assembled in a temporary directory:
the bentofile, the requirements file it names, and the source of every package in
``source_packages`` under ``src/`` (wherever they are installed, editable or not),
so the bento runs without the monorepo. The bentofile may be package data
(``bentofile_package``), so a pipeline image without the repository builds too.
The model to pack is passed as the bento argument ``model_tag``. The bento lands in
the BentoML store of ``bentoml_home``; ``make serving-image`` turns it into the
serving image (``deploy/serving.Dockerfile``, see :mod:`reelops.serving_image`).

With ``archive_dir`` (an fsspec URL: the data root on the cluster, where a pod's
BentoML store dies with the pod), the bento and the models it packs are also written
there as one uncompressed tar, laid out as the serving image's build context wants
it (``bento/``, ``bento/models/<name>/<version>/``): the machine that builds the
image (``make serving-image`` with ``--from-registry``) reads it from there.
"""

from __future__ import annotations

import importlib.util
import io
import logging
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import bentoml
import yaml
from bentoml.exceptions import NotFound
from kedro.io.core import AbstractDataset, DatasetError

from reelops.datasets.bento_model import PackagingSkipped, bentoml_home

if TYPE_CHECKING:
    from bentoml._internal.bento import BentoStore

__all__ = ["BentoBuildSpec", "BentoDataset", "write_bento_archive"]

logger = logging.getLogger(__name__)

#: Variables that would make the build pack another model than the spec's.
_SCRUBBED_ENV = ("REELOPS_MODEL_TAG", "REELOPS_SERVING_CONFIG")
_IGNORED = shutil.ignore_patterns("__pycache__", "*.pyc", "*.nbi", "*.nbc")


@dataclass(frozen=True)
class BentoBuildSpec:
    """What to build: the bento version, the model it packs and its labels."""

    version: str
    model_tag: str
    labels: dict[str, str] = field(default_factory=dict)


def _package_dir(name: str) -> Path:
    """Where the package ``name`` is installed (found without importing it)."""
    spec = importlib.util.find_spec(name)
    locations = list(spec.submodule_search_locations or []) if spec else []
    if not locations:
        raise DatasetError(f"'{name}' is not an installed package")
    return Path(locations[0])


def write_bento_archive(bento_dir: Path, models: dict[str, Path], target: str) -> None:
    """Write a bento and its models as an uncompressed tar at the URL ``target``.

    ``models`` maps ``"<name>:<version>"`` to a model directory. The layout is the
    serving image's build context: ``bento/``, ``bento/models/<name>/<version>/``
    and ``bento/models/<name>/latest``.
    """
    import fsspec

    with (
        fsspec.open(target, "wb", auto_mkdir=True) as raw,
        tarfile.open(fileobj=raw, mode="w|") as tar,
    ):
        tar.add(bento_dir, arcname="bento")
        for tag, path in sorted(models.items()):
            name, version = tag.split(":", 1)
            tar.add(path, arcname=f"bento/models/{name}/{version}")
            latest = tarfile.TarInfo(f"bento/models/{name}/latest")
            latest.size = len(version.encode())
            tar.addfile(latest, io.BytesIO(version.encode()))


class BentoDataset(AbstractDataset[BentoBuildSpec | PackagingSkipped, dict | None]):
    """Build bentos from a bentofile; load the newest bento's info (or ``None``).

    Example::

        serving_bento:
          type: reelops.datasets.BentoDataset
          bentofile: bento/bentofile.yaml
          bentofile_package: reelops_serving
          source_packages:
            [reelops_serving, reelops_contracts, recsys, reelops_monitoring]
          bentoml_home: ${oc.env:BENTOML_HOME,bentoml_home}

    Loading gives ``tag``, ``path``, ``dockerfile``, ``labels`` and ``models``.
    Building a version that is already in the store does nothing.
    """

    def __init__(
        self,
        *,
        bentofile: str,
        source_packages: list[str],
        bentofile_package: str | None = None,
        bentoml_home: str | None = None,
        archive_dir: str | None = None,
        timeout: int = 900,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Create the dataset for the bentos ``bentofile`` describes.

        ``bentofile`` is relative to the installed package ``bentofile_package``
        when one is given, else to the working directory; ``archive_dir`` (fsspec
        URL) also receives each built bento as ``<name>-<version>.tar``.
        """
        self._bentofile = (
            _package_dir(bentofile_package) / bentofile
            if bentofile_package
            else Path(bentofile)
        )
        self._packages = list(source_packages)
        self._home = bentoml_home
        self._archive_dir = archive_dir.rstrip("/") if archive_dir else None
        self._timeout = timeout
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {
            "bentofile": str(self._bentofile),
            "source_packages": self._packages,
            "bentoml_home": self._home,
            "archive_dir": self._archive_dir,
        }

    def _archive_path(self, tag: str) -> str | None:
        if not self._archive_dir:
            return None
        name, version = tag.split(":", 1)
        return f"{self._archive_dir}/{name}-{version}.tar"

    def _archive(self, tag: str) -> None:
        """Write the stored bento ``tag`` and its models to the archive directory."""
        target = self._archive_path(tag)
        if target is None:
            return
        from bentoml._internal.models import ModelStore

        store = self._store()
        bento = bentoml.bentos.get(tag, _bento_store=store)
        models = ModelStore(str(bentoml_home(self._home) / "models"))
        paths = {
            str(info.tag): Path(models.get(info.tag).path)
            for info in bento.info.all_models
        }
        write_bento_archive(Path(bento.path), paths, target)
        logger.info("bento %s archived at %s", tag, target)

    def _config(self) -> dict[str, Any]:
        try:
            config = yaml.safe_load(self._bentofile.read_text(encoding="utf-8"))
        except OSError as exc:
            raise DatasetError(
                f"cannot read bentofile '{self._bentofile}' ({exc.strerror or exc})"
            ) from exc
        if not isinstance(config, dict) or not config.get("name"):
            raise DatasetError(
                f"bentofile '{self._bentofile}' must be a mapping with a 'name'"
            )
        return config

    def _store(self) -> BentoStore:
        # The public bentoml.bentos functions take the store as ``_bento_store``.
        from bentoml._internal.bento import BentoStore

        root = bentoml_home(self._home) / "bentos"
        root.mkdir(parents=True, exist_ok=True)
        return BentoStore(str(root))

    def _assemble(self, config: dict[str, Any], ctx: Path) -> Path:
        """Copy the bentofile, its requirements and the package sources to ``ctx``."""
        bentofile = ctx / "bentofile.yaml"
        shutil.copy2(self._bentofile, bentofile)
        requirements = (config.get("python") or {}).get("requirements_txt")
        if requirements:
            shutil.copy2(self._bentofile.parent / requirements, ctx / requirements)
        for name in self._packages:
            shutil.copytree(_package_dir(name), ctx / "src" / name, ignore=_IGNORED)
        return bentofile

    def save(self, data: BentoBuildSpec | PackagingSkipped) -> None:
        """Build the bento ``data`` describes, or log why nothing is built."""
        if isinstance(data, PackagingSkipped):
            logger.warning("no bento built: %s", data.reason)
            return
        config = self._config()
        tag = f"{config['name']}:{data.version}"
        store = self._store()
        try:
            bentoml.bentos.get(tag, _bento_store=store)
        except NotFound:
            pass
        else:
            logger.info("bento %s is already in the store", tag)
            self._archive(tag)
            return
        with tempfile.TemporaryDirectory(prefix="reelops-bento-") as tmp:
            bentofile = self._assemble(config, Path(tmp))
            labels = [f"--label={k}={v}" for k, v in sorted(data.labels.items())]
            cmd = [
                sys.executable,
                "-m",
                "bentoml",
                "build",
                "--bentofile",
                str(bentofile),
                "--version",
                data.version,
                "--output",
                "tag",
                "--arg",
                f"model_tag={data.model_tag}",
                *labels,
                tmp,
            ]
            env = {k: v for k, v in os.environ.items() if k not in _SCRUBBED_ENV}
            env.update(
                BENTOML_HOME=str(bentoml_home(self._home)),
                BENTOML_DO_NOT_TRACK="true",
                BENTOML_BUNDLE_LOCAL_BUILD="false",
            )
            try:
                proc = subprocess.run(
                    cmd,
                    cwd=tmp,
                    env=env,
                    capture_output=True,
                    text=True,
                    timeout=self._timeout,
                    check=False,
                )
            except subprocess.TimeoutExpired as exc:
                raise DatasetError(
                    f"bentoml build of {tag} did not finish within {self._timeout} s"
                ) from exc
        if proc.returncode != 0:
            last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise DatasetError(
                f"bentoml build of {tag} failed with exit code {proc.returncode}: "
                f"{last}"
            )
        built = next(
            (
                line.split("__tag__:", 1)[1].strip()
                for line in proc.stdout.splitlines()
                if "__tag__:" in line
            ),
            "",
        )
        if built != tag:
            raise DatasetError(f"bentoml build reported tag '{built}', expected {tag}")
        logger.info("built bento %s (its image: make serving-image)", tag)
        self._archive(tag)

    def load(self) -> dict[str, Any] | None:
        """The newest bento of the bentofile's name, or ``None`` if there is none."""
        name = self._config()["name"]
        try:
            bentos = bentoml.bentos.list(name, _bento_store=self._store())
        except NotFound:
            return None
        if not bentos:
            return None
        newest = max(bentos, key=lambda b: b.info.creation_time)
        path = Path(newest.path)
        return {
            "tag": str(newest.tag),
            "path": str(path),
            "dockerfile": str(path / "env" / "docker" / "Dockerfile"),
            "labels": dict(newest.info.labels),
            "models": [str(m.tag) for m in newest.info.all_models],
            "archive": self._archive_path(str(newest.tag)),
        }

    def _exists(self) -> bool:
        return self.load() is not None
