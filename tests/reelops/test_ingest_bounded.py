"""The ingest nodes as declared, through the catalog's datasets: chunk by chunk, in
bounded memory, every line accounted for."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pandas as pd
import pytest
import yaml
from kedro.io import DataCatalog, MemoryDataset
from kedro.runner import SequentialRunner

from reelops.config import catalog_names
from reelops.datasets.chunked_parquet import ChunkedParquetDataset
from reelops.datasets.raw_csv import RawCSVDataset
from reelops.pipeline_spec import build_pipelines, load_pipeline_files

REPO = Path(__file__).resolve().parents[2]
DATA = REPO / "tests" / "data"
COLUMNS = {
    "movies": ["movieId", "title", "genres"],
    "ratings": ["userId", "movieId", "rating", "timestamp"],
    "tags": ["userId", "movieId", "tag", "timestamp"],
    "links": ["movieId", "imdbId", "tmdbId"],
}
NODES = [
    "validate_movies_node",
    "validate_ratings_node",
    "validate_tags_node",
    "validate_links_node",
    "collect_quarantine_node",
    "summarize_ingestion_node",
]
#: What the Argo ingest task may use (conf/base/argo.yml); the test asks for half.
LIMIT_MIB = 2048


def run_ingest(raw: Path, out: Path, chunk_rows: int) -> dict[str, Any]:
    """Run the declared ingest nodes on ``raw``; the ingest report."""
    pipelines = build_pipelines(
        load_pipeline_files(REPO / "pipelines"), catalog_names(REPO / "conf")
    )
    pipe = pipelines["data_processing"].only_nodes(*NODES)
    rules = yaml.safe_load(
        (REPO / "conf/base/parameters_data_processing.yml").read_text()
    )["validation"]
    datasets: dict[str, Any] = {
        f"raw_{name}": RawCSVDataset(
            filepath=str(raw / f"{name}.csv"),
            columns=cols,
            chunk_rows=chunk_rows if name in {"ratings", "tags"} else None,
        )
        for name, cols in COLUMNS.items()
    }
    for name in COLUMNS:
        datasets[name] = ChunkedParquetDataset(filepath=str(out / f"{name}.parquet"))
        datasets[f"{name}_quarantine"] = ChunkedParquetDataset(
            filepath=str(out / "quarantine" / f"{name}.parquet"), lazy=True
        )
    datasets["quarantine"] = ChunkedParquetDataset(
        filepath=str(out / "quarantine.parquet"), lazy=True
    )
    datasets["params:validation"] = MemoryDataset(rules)
    datasets["raw_checksums"] = MemoryDataset({})
    datasets["ingest_report"] = MemoryDataset()
    catalog = DataCatalog(datasets)
    SequentialRunner().run(pipe, catalog)
    return catalog.load("ingest_report")


def test_a_corrupt_file_streams_through_the_declared_nodes(tmp_path: Path) -> None:
    # GIVEN mini MovieLens with repeated pairs among the ratings and an unclosed
    # quote in movies.csv, read 5 records at a time
    raw = tmp_path / "raw"
    shutil.copytree(DATA / "mini", raw)
    shutil.copy2(DATA / "corrupt/duplicate_pairs/ratings.csv", raw / "ratings.csv")
    shutil.copy2(DATA / "corrupt/unclosed_quote/movies.csv", raw / "movies.csv")
    # WHEN the ingest nodes run
    report = run_ingest(raw, tmp_path / "out", chunk_rows=5)
    # THEN every line is accounted for, and the files say which and why
    counts = {
        name: [s["input_rows"], s["valid_rows"], s["quarantined_rows"]]
        for name, s in report["sources"].items()
    }
    assert counts == {
        "links": [12, 12, 0],
        "movies": [14, 13, 1],
        "ratings": [44, 42, 2],
        "tags": [5, 5, 0],
    }
    assert report["balanced"] is True
    quarantine = pd.read_parquet(tmp_path / "out/quarantine.parquet")
    assert quarantine[["source", "line"]].values.tolist() == [
        ["movies.csv", 14],
        ["ratings.csv", 44],
        ["ratings.csv", 45],
    ]
    ratings = pd.read_parquet(tmp_path / "out/ratings.parquet")
    assert [str(t) for t in ratings.dtypes] == ["int32", "int32", "float32", "int64"]
    assert len(ratings) == 42


# Runs the ingest nodes in a fresh interpreter: argv = this file, raw, out.
_CHILD = """
import importlib.util, json, sys
spec = importlib.util.spec_from_file_location("bounded", sys.argv[1])
module = importlib.util.module_from_spec(spec)
spec.loader.exec_module(module)
from pathlib import Path
report = module.run_ingest(Path(sys.argv[2]), Path(sys.argv[3]), chunk_rows=200_000)
peak = [l for l in open("/proc/self/status") if l.startswith("VmHWM:")][0]
print(json.dumps({"report": report, "peak_kib": int(peak.split()[1])}))
"""


@pytest.mark.slow
def test_5m_duplicate_rows_ingest_in_bounded_memory(tmp_path: Path) -> None:
    # GIVEN 5 million copies of one rating (the whole file: 90 MB; read whole as
    # strings it took 5.4 GB)
    raw = tmp_path / "raw"
    shutil.copytree(DATA / "mini", raw)
    with (raw / "ratings.csv").open("wb") as out:
        out.write(b"userId,movieId,rating,timestamp\n")
        for _ in range(5):
            out.write(b"1,1,4.0,964982703\n" * 1_000_000)
    # WHEN ingested by the declared nodes in a fresh process
    proc = subprocess.run(
        [sys.executable, "-c", _CHILD, __file__, str(raw), str(tmp_path / "out")],
        capture_output=True,
        text=True,
        check=False,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads(proc.stdout.strip().splitlines()[-1])
    # THEN one row is valid, every other one quarantined with its reason and line
    ratings = result["report"]["sources"]["ratings"]
    assert ratings == {
        **ratings,
        "input_rows": 5_000_000,
        "valid_rows": 1,
        "quarantined_rows": 4_999_999,
        "balanced": True,
        "top_reasons": {
            "duplicate (userId, movieId) pair, first seen earlier in the file": (
                4_999_999
            )
        },
    }
    last = pd.read_parquet(
        tmp_path / "out/quarantine/ratings.parquet", columns=["line"]
    )["line"]
    assert last.iloc[-1] == 5_000_001
    # AND the process peaked under half the ingest task's limit
    assert result["peak_kib"] / 1024 < LIMIT_MIB / 2
