"""reelops.datasets.profile: profiles on disk, one file or a folder of them."""

from __future__ import annotations

import re

import pandas as pd
import pytest
from kedro.io import DataCatalog
from kedro.io.core import DatasetError

from reelops.datasets.profile import ProfileDataset, ProfileDirectoryDataset
from reelops_monitoring import profile_frame, profile_view, row_count, summarize_view


def test_save_then_load_round_trips(tmp_path, small_frame):
    # GIVEN a profile and a dataset in a folder that does not exist yet
    view = profile_view(small_frame, dataset_timestamp=pd.Timestamp("2024-01-01"))
    dataset = ProfileDataset(filepath=str(tmp_path / "06_models" / "reference.bin"))
    assert not dataset.exists()
    # WHEN saved and loaded
    dataset.save(view)
    loaded = dataset.load()
    # THEN the view is the same
    assert dataset.exists()
    pd.testing.assert_frame_equal(summarize_view(loaded), summarize_view(view))


def test_catalog_builds_it_from_config(tmp_path, small_frame):
    catalog = DataCatalog.from_config(
        {
            "reference_profile": {
                "type": "reelops.datasets.profile.ProfileDataset",
                "filepath": str(tmp_path / "p.bin"),
            }
        }
    )
    catalog.save("reference_profile", profile_view(small_frame))
    assert row_count(catalog.load("reference_profile")) == len(small_frame)


def test_missing_file_is_a_dataset_error(tmp_path):
    path = tmp_path / "nope.bin"
    with pytest.raises(
        DatasetError, match=re.escape(f"profile file not found: {path}")
    ):
        ProfileDataset(filepath=str(path)).load()


def test_corrupt_file_names_the_file(tmp_path):
    path = tmp_path / "bad.bin"
    path.write_bytes(b"not a profile")
    with pytest.raises(DatasetError, match=re.escape(f"{path}: cannot deserialize")):
        ProfileDataset(filepath=str(path)).load()


def test_saving_something_else_is_an_error(tmp_path):
    with pytest.raises(
        DatasetError,
        match=re.escape(
            "ProfileDataset saves a whylogs profile view, got dict instead"
        ),
    ):
        ProfileDataset(filepath=str(tmp_path / "p.bin")).save({})  # type: ignore[arg-type]


def test_directory_merges_every_flush(tmp_path, small_frame):
    # GIVEN three serving flushes, one in a sub-folder, and a stray file
    (tmp_path / "2024-01-02").mkdir()
    (tmp_path / "a.bin").write_bytes(profile_frame(small_frame))
    (tmp_path / "b.bin").write_bytes(profile_frame(small_frame.head(2)))
    (tmp_path / "2024-01-02" / "c.bin").write_bytes(profile_frame(small_frame.head(1)))
    (tmp_path / "notes.txt").write_text("ignored")
    # WHEN the folder is loaded recursively
    merged = ProfileDirectoryDataset(path=str(tmp_path), glob="**/*.bin").load()
    # THEN every row of every flush is counted
    assert row_count(merged) == len(small_frame) + 2 + 1
    top_level = ProfileDirectoryDataset(path=str(tmp_path)).load()
    assert row_count(top_level) == len(small_frame) + 2


def test_empty_directory_is_an_error(tmp_path):
    dataset = ProfileDirectoryDataset(path=str(tmp_path))
    assert not dataset.exists()
    with pytest.raises(
        DatasetError, match=re.escape(f"no profile file matches '*.bin' in {tmp_path}")
    ):
        dataset.load()


def test_directory_is_read_only(tmp_path, small_frame):
    with pytest.raises(DatasetError, match="ProfileDirectoryDataset is read-only"):
        ProfileDirectoryDataset(path=str(tmp_path)).save(profile_view(small_frame))
