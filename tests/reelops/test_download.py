"""Fallback download of ml-latest-small: verified, atomic, clear when offline."""

from __future__ import annotations

import io
import re
import zipfile
from pathlib import Path

import pytest
import yaml

from reelops.datasets import RawCSVDataset
from reelops.datasets._download import ArchiveSource, ensure_local_file, sha256_bytes
from reelops.errors import DataSourceError
from tests.conftest import DATA, REPO, fetch_movielens, free_port, movielens_download

FILES = ("links.csv", "movies.csv", "ratings.csv", "tags.csv")


def zip_of(folder: str, files: dict[str, bytes]) -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        for name, data in files.items():
            zf.writestr(f"{folder}/{name}", data)
    return buf.getvalue()


def source_for(url: str, files: dict[str, bytes], **extra) -> ArchiveSource:
    return ArchiveSource(
        url=url,
        folder="ml-latest-small",
        members={k: sha256_bytes(v) for k, v in files.items()},
        **extra,
    )


def mini_files() -> dict[str, bytes]:
    return {name: (DATA / "mini" / name).read_bytes() for name in FILES}


def test_pinned_member_sums_are_the_published_release(real_movielens: Path) -> None:
    # The checksums pinned in conf are those of the published data set's files.
    globals_ = yaml.safe_load((REPO / "conf/base/globals.yml").read_text())
    for name, digest in globals_["movielens_download"]["members"].items():
        assert sha256_bytes((real_movielens / name).read_bytes()) == digest


def test_the_suite_fetches_movielens_through_the_pipeline_download(
    serve, tmp_path: Path, real_movielens: Path
) -> None:
    # GIVEN the pinned archive, served from 127.0.0.1 as a zip built from a real copy
    pinned = movielens_download()
    archive = zip_of(
        pinned.folder,
        {name: (real_movielens / name).read_bytes() for name in pinned.members},
    )
    url = serve("ml-latest-small.zip", archive)
    # WHEN the suite needs MovieLens and has no local copy
    target = fetch_movielens(
        tmp_path / "01_raw" / pinned.folder, pinned.model_copy(update={"url": url})
    )
    # THEN every pinned file is there, with the pinned bytes, and nothing else
    assert sorted(p.name for p in target.iterdir()) == sorted(pinned.members)
    for name, digest in pinned.members.items():
        assert sha256_bytes((target / name).read_bytes()) == digest


def test_the_suite_fails_in_one_line_when_movielens_cannot_be_fetched(
    serve, tmp_path: Path
) -> None:
    # GIVEN an archive whose files are not the pinned ones
    pinned = movielens_download()
    url = serve("ml-latest-small.zip", zip_of(pinned.folder, mini_files()))
    # WHEN the suite fetches it, THEN the test fails with the download's message
    with pytest.raises(pytest.fail.Exception) as info:
        fetch_movielens(
            tmp_path / pinned.folder, pinned.model_copy(update={"url": url})
        )
    message = str(info.value)
    assert message.startswith(
        f"MovieLens ml-latest-small: sha256 mismatch for {pinned.folder}/links.csv in {url}: "
    )
    assert "\n" not in message
    assert not (tmp_path / pinned.folder).exists()


def test_missing_files_are_downloaded_verified_and_loaded(
    serve, tmp_path: Path
) -> None:
    files = mini_files()
    archive = zip_of("ml-latest-small", files)
    url = serve("ml.zip", archive)
    target = tmp_path / "raw" / "ratings.csv"
    dataset = RawCSVDataset(
        filepath=str(target),
        columns=["userId", "movieId", "rating", "timestamp"],
        download=source_for(url, files, sha256=sha256_bytes(archive)).model_dump(),
    )
    frame = dataset.load()
    assert len(frame) == 42
    assert sorted(p.name for p in target.parent.iterdir()) == sorted(FILES)
    # AND they are ordinary files other users (an image's uid) can read
    assert {(p.stat().st_mode & 0o777) for p in target.parent.iterdir()} == {0o644}


def test_member_checksum_mismatch_writes_nothing(serve, tmp_path: Path) -> None:
    files = mini_files()
    tampered = {**files, "ratings.csv": files["ratings.csv"] + b"1,1,5.0,964982703\r\n"}
    url = serve("ml.zip", zip_of("ml-latest-small", tampered))
    target = tmp_path / "raw" / "ratings.csv"
    with pytest.raises(
        DataSourceError,
        match=re.escape(
            f"sha256 mismatch for ml-latest-small/ratings.csv in {url}: expected "
            f"{sha256_bytes(files['ratings.csv'])}, got "
            f"{sha256_bytes(tampered['ratings.csv'])}"
        ),
    ):
        ensure_local_file(str(target), source_for(url, files))
    assert not target.parent.exists() or not any(target.parent.iterdir())


def test_archive_checksum_mismatch(serve, tmp_path: Path) -> None:
    files = mini_files()
    url = serve("ml.zip", zip_of("ml-latest-small", files))
    with pytest.raises(
        DataSourceError, match=re.escape(f"sha256 mismatch for {url}: expected 00")
    ):
        ensure_local_file(
            str(tmp_path / "ratings.csv"), source_for(url, files, sha256="00" * 32)
        )


def test_offline_is_a_clear_one_line_error(tmp_path: Path) -> None:
    url = f"http://127.0.0.1:{free_port()}/ml-latest-small.zip"
    with pytest.raises(DataSourceError) as info:
        ensure_local_file(str(tmp_path / "ratings.csv"), source_for(url, mini_files()))
    message = str(info.value)
    assert message.startswith(f"cannot download {url} (")
    assert message.endswith("offline? set MOVIELENS_DIR to a local copy of the data")
    assert "\n" not in message


def test_not_a_zip(serve, tmp_path: Path) -> None:
    url = serve("ml.zip", b"<html>maintenance</html>")
    with pytest.raises(DataSourceError, match=re.escape(f"{url} is not a zip archive")):
        ensure_local_file(str(tmp_path / "ratings.csv"), source_for(url, mini_files()))
