"""whylogs profiles as Kedro datasets: one ``.bin`` file, or a folder of them.

Both go through :mod:`reelops_monitoring` (its adapter is the only code that
imports whylogs) and fsspec, so paths may be local or ``s3://...``.
"""

from __future__ import annotations

import posixpath
from copy import deepcopy
from typing import TYPE_CHECKING, Any

import fsspec
from kedro.io.core import AbstractDataset, DatasetError, get_protocol_and_path

from reelops_monitoring import (
    ProfileError,
    deserialize_view,
    merge_views,
    serialize_view,
)

if TYPE_CHECKING:
    from reelops_monitoring import ProfileView

__all__ = ["ProfileDataset", "ProfileDirectoryDataset"]


class _FsspecMixin:
    """The fsspec file system and path of a dataset's ``filepath``/``path``."""

    _protocol: str
    _fs: Any

    def _init_fs(
        self,
        location: str,
        credentials: dict[str, Any] | None,
        fs_args: dict[str, Any] | None,
    ) -> str:
        protocol, path = get_protocol_and_path(location)
        self._protocol = protocol
        self._fs = fsspec.filesystem(
            protocol, **deepcopy(credentials or {}), **deepcopy(fs_args or {})
        )
        return path

    def _url(self, path: str) -> str:
        return path if self._protocol == "file" else f"{self._protocol}://{path}"


class ProfileDataset(_FsspecMixin, AbstractDataset["ProfileView", "ProfileView"]):
    """One whylogs profile view, stored as a serialized ``.bin`` file.

    Example::

        reference_profile:
          type: reelops.datasets.ProfileDataset
          filepath: ${globals:data_root}/06_models/reference_profile.bin
    """

    def __init__(
        self,
        *,
        filepath: str,
        credentials: dict[str, Any] | None = None,
        fs_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Create the dataset for ``filepath`` (a local path or an fsspec URL)."""
        self._filepath = self._init_fs(filepath, credentials, fs_args)
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"filepath": self._url(self._filepath)}

    def load(self) -> ProfileView:
        """Read and deserialize the profile view."""
        try:
            with self._fs.open(self._filepath, "rb") as handle:
                data = handle.read()
        except FileNotFoundError as exc:
            raise DatasetError(
                f"profile file not found: {self._url(self._filepath)}"
            ) from exc
        try:
            return deserialize_view(data)
        except ProfileError as exc:
            raise DatasetError(f"{self._url(self._filepath)}: {exc}") from exc

    def save(self, data: ProfileView) -> None:
        """Serialize ``data`` and write it (parent folders are created)."""
        try:
            payload = serialize_view(data)
        except AttributeError as exc:
            raise DatasetError(
                "ProfileDataset saves a whylogs profile view, "
                f"got {type(data).__name__} instead"
            ) from exc
        self._fs.makedirs(posixpath.dirname(self._filepath) or ".", exist_ok=True)
        with self._fs.open(self._filepath, "wb") as handle:
            handle.write(payload)

    def _exists(self) -> bool:
        return bool(self._fs.exists(self._filepath))


class ProfileDirectoryDataset(
    _FsspecMixin, AbstractDataset["ProfileView", "ProfileView"]
):
    """Every profile file of a folder, merged into one view (read-only).

    For the serving request profiles: the service flushes one ``.bin`` per batch
    into ``path``; loading merges them all (``glob`` selects the files, searched
    recursively with ``**``).

    Example::

        serving_profile:
          type: reelops.datasets.ProfileDirectoryDataset
          path: ${globals:data_root}/07_model_output/serving_profiles
          glob: "**/*.bin"
    """

    def __init__(
        self,
        *,
        path: str,
        glob: str = "*.bin",
        credentials: dict[str, Any] | None = None,
        fs_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Create the dataset for the folder ``path`` (local or an fsspec URL)."""
        self._path = self._init_fs(path, credentials, fs_args).rstrip("/")
        self._glob = glob
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {"path": self._url(self._path), "glob": self._glob}

    def files(self) -> list[str]:
        """The matching files, sorted (so the merge order is reproducible)."""
        return sorted(self._fs.glob(posixpath.join(self._path, self._glob)))

    def load(self) -> ProfileView:
        """Merge every matching profile file.

        Raises:
            DatasetError: If no file matches, or one is not a profile.
        """
        files = self.files()
        if not files:
            raise DatasetError(
                f"no profile file matches '{self._glob}' in {self._url(self._path)}"
            )
        views = []
        for file in files:
            with self._fs.open(file, "rb") as handle:
                data = handle.read()
            try:
                views.append(deserialize_view(data))
            except ProfileError as exc:
                raise DatasetError(f"{self._url(file)}: {exc}") from exc
        return merge_views(views)

    def save(self, data: ProfileView) -> None:
        """The folder is written by the service, one file per flush."""
        raise DatasetError(
            "ProfileDirectoryDataset is read-only; save single profiles with "
            "ProfileDataset"
        )

    def _exists(self) -> bool:
        return bool(self.files())
