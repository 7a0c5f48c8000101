"""``VerifiedPickleDataset``: a pickle file that is unpickled only if it is unchanged.

Saving writes the pickle and, beside it, ``<filepath>.sha256`` holding its digest in
``sha256sum`` format; loading reads the bytes, checks them against that file and
refuses a mismatch in one line before unpickling
(:class:`~reelops.errors.ArtifactIntegrityError`). A pickle with no ``.sha256`` file
(saved before there were any) loads with a warning. Local paths and fsspec URLs
(``s3://...`` on the cluster) work alike. Both stream: the bytes are hashed as they
are written, and read twice from one open file (hashed, then unpickled) on load.

With ``lazy: true`` loading returns a callable that does the above when called, as
``PartitionedDataset`` hands out one load function per partition: a node that takes
many models and needs one (``package_challenger``) loads only that one. Declare it
as a transcoded twin (``x@pickle`` and ``x@lazy`` on the same file), so Kedro still
runs the node after the one that saved the pickle. The callable
(:class:`VerifiedPickle`) can also copy the file's checked bytes elsewhere without
unpickling them (:meth:`VerifiedPickle.copy_to`): the registry stores the split's
fit that way, byte for byte.
"""

from __future__ import annotations

import pickle
from typing import TYPE_CHECKING, Any, BinaryIO

import fsspec
from kedro.io.core import AbstractDataset, DatasetError, get_protocol_and_path

from reelops.datasets._integrity import dump_pickle, sha256_stream, verify_sha256

if TYPE_CHECKING:
    from fsspec import AbstractFileSystem

__all__ = ["SIDECAR_SUFFIX", "VerifiedPickle", "VerifiedPickleDataset"]

#: Suffix of the file beside the pickle that records its sha256.
SIDECAR_SUFFIX = ".sha256"


class VerifiedPickle:
    """A pickle file and its recorded sha256, not yet read.

    Calling it unpickles the file once its bytes match; :meth:`copy_to` copies
    the bytes elsewhere, checked as they stream, without unpickling them.
    """

    def __init__(self, fs: AbstractFileSystem, path: str, filepath: str) -> None:
        """The pickle at ``path`` on ``fs``; ``filepath`` names it in errors."""
        self._fs = fs
        self._path = path
        self.filepath = filepath

    def __repr__(self) -> str:
        return f"VerifiedPickle({self.filepath!r})"

    def _expected(self) -> str | None:
        sidecar = self._path + SIDECAR_SUFFIX
        if not self._fs.exists(sidecar):
            return None
        with self._fs.open(sidecar, "r") as handle:
            return (handle.read().split() or [""])[0]

    def __call__(self) -> Any:
        """Unpickle the file once its bytes match the recorded sha256.

        Raises:
            ArtifactIntegrityError: The file's sha256 is not the recorded one.
        """
        expected = self._expected()
        # One open file, read twice: hashed, then unpickled from the start, so no
        # copy of its bytes is held beside the model it becomes (gigabytes at 25M).
        with self._fs.open(self._path, "rb") as handle:
            actual = sha256_stream(handle)
            verify_sha256(self.filepath, expected=expected, actual=actual)
            handle.seek(0)
            return pickle.load(handle)  # noqa: S301 - verified just above

    def copy_to(self, target: BinaryIO) -> str:
        """Copy the file's bytes into ``target`` and return their sha256.

        The bytes are hashed as they stream (1 MiB at a time); the copy is
        refused after the fact if they are not the recorded ones, so the caller
        must discard ``target`` on error.

        Raises:
            ArtifactIntegrityError: The bytes' sha256 is not the recorded one.
        """
        expected = self._expected()
        with self._fs.open(self._path, "rb") as handle:
            actual = sha256_stream(handle, copy_to=target)
        verify_sha256(self.filepath, expected=expected, actual=actual)
        return actual


class VerifiedPickleDataset(AbstractDataset[Any, Any]):
    """Pickle an object with its sha256; unpickle it only when the digest matches.

    Example::

        "{candidate}.model":
          type: reelops.datasets.VerifiedPickleDataset
          filepath: ${globals:data_root}/06_models/{candidate}/model.pkl
          save_args: {protocol: 5}

        "{candidate}.model@lazy":   # loads to a callable that unpickles on call
          type: reelops.datasets.VerifiedPickleDataset
          filepath: ${globals:data_root}/06_models/{candidate}/model.pkl
          lazy: true
    """

    def __init__(
        self,
        *,
        filepath: str,
        save_args: dict[str, Any] | None = None,
        lazy: bool = False,
        credentials: dict[str, Any] | None = None,
        fs_args: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
    ) -> None:
        """Create the dataset for the pickle at ``filepath`` (path or fsspec URL)."""
        self._filepath = filepath
        self._protocol, self._path = get_protocol_and_path(filepath)
        self._save_args = dict(save_args or {})
        self._lazy = lazy
        unknown = sorted(set(self._save_args) - {"protocol"})
        if unknown:
            raise DatasetError(
                f"save_args of {filepath} must only set 'protocol', got {unknown}"
            )
        self._fs = fsspec.filesystem(
            self._protocol, **(credentials or {}), **(fs_args or {})
        )
        self.metadata = metadata

    def _describe(self) -> dict[str, Any]:
        return {
            "filepath": self._filepath,
            "save_args": self._save_args,
            "lazy": self._lazy,
        }

    def load(self) -> Any:
        """Unpickle the file once its bytes match the recorded sha256.

        With ``lazy``, return a :class:`VerifiedPickle` that does so when called.

        Raises:
            ArtifactIntegrityError: The file's sha256 is not the recorded one.
        """
        pickled = VerifiedPickle(self._fs, self._path, self._filepath)
        return pickled if self._lazy else pickled()

    def save(self, data: Any) -> None:
        """Pickle ``data`` to the file and its sha256 to ``<filepath>.sha256``."""
        parent = self._path.rpartition("/")[0]
        if self._protocol == "file" and parent:
            self._fs.mkdirs(parent, exist_ok=True)
        with self._fs.open(self._path, "wb") as handle:
            digest = dump_pickle(data, handle, **self._save_args)
        name = self._path.rpartition("/")[2]
        with self._fs.open(self._path + SIDECAR_SUFFIX, "w") as handle:
            handle.write(f"{digest}  {name}\n")

    def _exists(self) -> bool:
        return bool(self._fs.exists(self._path))
