"""``kedro run`` as a person sees it: progress, a log file, one-line errors.

The CLI cases run the real ``kedro`` in a scratch project; the console handler and
the stage map are checked in-process.
"""

from __future__ import annotations

import io
import logging
import os
import re
import socket
import subprocess
from pathlib import Path

import pytest

from reelops.run_log import ConsoleFilter, ConsoleHandler, stage_of_nodes
from tests.conftest import DATA, REPO, make_project, run_kedro

PIPELINES = (
    "__default__, data_processing, eda, features, feedback_union, monitoring, "
    "packaging, reference_profile, replay, split, training, tuning"
)


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_project(tmp_path_factory.mktemp("cli"))


def last_line(proc: subprocess.CompletedProcess[str]) -> str:
    return (proc.stdout + proc.stderr).strip().splitlines()[-1]


def test_an_unknown_pipeline_is_refused_before_any_work(project: Path) -> None:
    # WHEN a pipeline name is mistyped
    proc = run_kedro(project, "run", "--pipeline", "nope", check=False)
    # THEN one line lists the valid names, and nothing ran
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        f"Error: pipeline 'nope' does not exist (expected one of: {PIPELINES})"
    )
    assert proc.stdout == ""
    assert not (project / "mlflow.db").exists()
    assert not (project / "logs").exists()


def test_an_unknown_environment_is_refused_before_any_work(project: Path) -> None:
    proc = run_kedro(project, "run", "--env", "nope", check=False)
    assert proc.returncode == 1
    assert proc.stderr.strip() == (
        "Error: environment 'nope' does not exist: no directory conf/nope "
        "(expected one of: dev, local, prod, staging)"
    )
    assert not (project / "mlflow.db").exists()


def test_offline_with_no_data_is_one_line(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    # GIVEN no local copy of MovieLens and a download address nobody answers
    project = make_project(tmp_path_factory.mktemp("offline"))
    with socket.socket() as sock:  # a port that was free a moment ago: refused
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    url = f"http://127.0.0.1:{port}/ml-latest-small.zip"
    globals_yml = project / "conf/base/globals.yml"
    globals_yml.write_text(
        re.sub(r"url: \S+", f"url: {url}", globals_yml.read_text(encoding="utf-8")),
        encoding="utf-8",
    )
    empty = project / "no-movielens"
    empty.mkdir()
    # WHEN the default pipeline runs
    proc = run_kedro(project, "run", env={"MOVIELENS_DIR": str(empty)}, check=False)
    # THEN it fails with one line that says what to do, and no traceback
    assert proc.returncode == 1
    assert re.fullmatch(
        re.escape(
            f"Error: cannot download {url} ([Errno 111] Connection refused); "
            "offline? set MOVIELENS_DIR to a local copy of the data (full log: "
        )
        + r"logs/run-[0-9-]+\.log\)",
        proc.stderr.strip(),
    ), proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    # AND the log file has the whole story
    log = project / last_line(proc).rsplit("full log: ", 1)[1].rstrip(")")
    assert "Traceback" in log.read_text(encoding="utf-8")


def test_a_run_prints_progress_and_keeps_the_full_log(project: Path) -> None:
    # WHEN a pipeline runs with stdout not a terminal (as in CI or a pod)
    proc = run_kedro(
        project,
        "run",
        "--pipeline",
        "data_processing",
        env={"MOVIELENS_DIR": str(DATA / "mini")},
    )
    # THEN stdout is a header, one plain line per task, a closing line, the log
    lines = proc.stdout.splitlines()
    assert lines[0] == "kedro run: pipeline data_processing, env local, 8 tasks"
    tasks = lines[1:9]
    assert all(
        re.fullmatch(r"\[[1-8]/8\] data_processing +\w+_node +\d+\.\d s", line)
        for line in tasks
    ), tasks
    assert re.fullmatch(r"done: 8 tasks in \d+\.\d s", lines[9])
    assert re.fullmatch(r"full log: logs/run-[0-9-]+\.log", lines[10])
    assert len(lines) == 11
    assert proc.stderr == ""
    # AND Kedro's own log is in the file, not on the console
    log = (project / lines[10].removeprefix("full log: ")).read_text()
    assert "Running node: validate_ratings_node" in log
    assert "Running node" not in proc.stdout
    # AND each task's peak resident size, in the file only: at least the
    # interpreter's (~100 MiB), at most what the machine could hold
    peaks = dict(re.findall(r"peak RSS (\w+_node) (\d+\.\d{3}) GiB", log))
    assert set(peaks) == {line.split()[2] for line in tasks}
    assert all(0.05 < float(gib) < 64 for gib in peaks.values()), peaks
    assert "peak RSS" not in proc.stdout


def test_on_a_terminal_the_running_task_is_redrawn_in_place() -> None:
    out = io.StringIO()
    handler = ConsoleHandler(out, live=True, width=40)
    handler.setFormatter(logging.Formatter("%(message)s"))
    log = logging.getLogger("reelops.progress.test")
    log.propagate = False
    log.addHandler(handler)
    log.setLevel(logging.INFO)
    try:
        log.info("[1/2] eda  plot_node ...", extra={"progress": "running"})
        log.info("[1/2] eda  plot_node  0.1 s", extra={"progress": "task"})
        log.info("[2/2] eda  summarize_node ...", extra={"progress": "running"})
        log.info("eda  2 tasks  0.3 s", extra={"progress": "stage"})
        log.warning("something that matters")
    finally:
        log.removeHandler(handler)
    assert out.getvalue() == (
        "[1/2] eda  plot_node ..."
        "\r\x1b[K[2/2] eda  summarize_node ..."
        "\r\x1b[Keda  2 tasks  0.3 s\n"
        "WARNING: something that matters\n"
    )


@pytest.mark.parametrize(
    ("name", "level", "exc", "shown"),
    [
        ("reelops.nodes.ingest", logging.WARNING, False, True),
        ("kedro.runner", logging.WARNING, False, True),
        ("mlflow.models", logging.WARNING, False, False),
        ("py.warnings", logging.WARNING, False, False),
        ("kedro.io", logging.INFO, False, False),
        ("bentoml", logging.ERROR, False, True),
        ("kedro.runner", logging.ERROR, True, False),
    ],
)
def test_the_console_shows_warnings_that_matter_and_errors_without_tracebacks(
    name: str, level: int, exc: bool, shown: bool
) -> None:
    record = logging.LogRecord(name, level, __file__, 1, "m", None, None)
    if exc:
        record.exc_info = (ValueError, ValueError("x"), None)
    assert ConsoleFilter().filter(record) is shown


def test_a_node_belongs_to_the_smallest_pipeline_holding_it() -> None:
    class Node:
        def __init__(self, name: str) -> None:
            self.name = name

    class Pipe:
        def __init__(self, *names: str) -> None:
            self.nodes = [Node(n) for n in names]

    pipelines = {
        "__default__": Pipe("ingest", "split", "fit"),
        "data_processing": Pipe("ingest"),
        "split": Pipe("ingest", "split"),
        "training": Pipe("ingest", "split", "fit"),
    }
    assert stage_of_nodes(pipelines, {"ingest", "split", "fit"}) == {
        "ingest": "data_processing",
        "split": "split",
        "fit": "training",
    }


def test_make_serve_before_make_run_says_to_run_it_first(tmp_path: Path) -> None:
    proc = subprocess.run(
        ["make", "--no-print-directory", "serve"],
        cwd=REPO,
        env={**os.environ, "BENTOML_HOME": str(tmp_path)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode != 0
    # (make setup may print its own lines first, when the lock changed)
    assert (
        f"serve: no packaged bento in {tmp_path}: run `make run` first"
        in proc.stderr.splitlines()
    )


def test_an_input_no_run_wrote_yet_says_which_pipeline_writes_it(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    # GIVEN a project where nothing ran (no feedback database either)
    project = make_project(tmp_path_factory.mktemp("unprocessed"))
    # WHEN monitoring runs
    proc = run_kedro(project, "run", "--pipeline", "monitoring", check=False)
    # THEN it fails with one line naming the missing input, where it was looked
    # for, and the pipeline that writes it; the traceback is in the log only
    assert proc.returncode == 1
    assert re.fullmatch(
        re.escape(
            "Error: input 'movies' does not exist yet (expected "
            f"{project}/data/03_primary/movies.parquet); it is written by the "
            "'data_processing' pipeline: run `kedro run` (or `kedro run "
            "--pipeline data_processing`) first (full log: "
        )
        + r"logs/run-[0-9-]+\.log\)",
        proc.stderr.strip(),
    ), proc.stderr
    assert "Traceback" not in proc.stdout + proc.stderr
    # AND the feedback database nobody created yet was "no feedback yet", not
    # created by the read
    assert "WARNING: no feedback yet: no table 'feedback' at sqlite:///" in proc.stdout
    assert not (project / "data/01_raw/feedback.db").exists()
