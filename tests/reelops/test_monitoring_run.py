"""``kedro run --pipeline monitoring`` end to end, then the feedback union.

The deployed model, its reference profile and holdout metrics come from the
session's real default run (``default_run``: ml-latest-small, which registers
@challenger). A scratch project reads them (same tracking DB, its own experiment,
so the default run's experiment is untouched), with a SQLite feedback table of the
service's schema and request profiles flushed with ``profile_frame``:

* baseline: 2018Q3's real ratings plus a new user's, and two request flushes;
* drift: the same ratings +0.5 stars for every user (``inflate_ratings``), and a
  bot rating 40 of the quarter's movies 5.0 (quarantined, pages a human);
* empty: a window without feedback, and no request-profile folder at all.
"""

from __future__ import annotations

import base64
import io
import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from PIL import Image
from sqlalchemy import MetaData, create_engine

from reelops_contracts import STATUS_ENDPOINTS, STATUS_PROFILE_COLUMNS, status_row
from reelops_monitoring import profile_frame
from reelops_monitoring.scenarios import inflate_ratings
from reelops_serving.feedback import feedback_table
from tests.conftest import make_project, movielens_dir, run_kedro

pytestmark = pytest.mark.slow

EXPERIMENT = "reelops-monitoring-test"
WINDOW = ["--params", "monitoring_window.end=2018-10-01,monitoring_window.days=92"]
NEXT_WINDOW = ["--params", "monitoring_window.end=2019-01-01,monitoring_window.days=92"]
NEW_USER = 100_001
BOT = 100_002
DECISION = "data/08_reporting/monitoring/decision.json"
REPORT = "data/08_reporting/monitoring/report.html"
REFERENCE_BLUE = (0x3B, 0x75, 0xAF)  # the reference bars of the report's plots


def _seconds(day: str) -> int:
    return int(pd.Timestamp(day, tz="UTC").timestamp())


def _feedback(ratings: pd.DataFrame, served_by: str) -> pd.DataFrame:
    ts = ratings["timestamp"]
    quarter = ratings[(ts >= _seconds("2018-07-01")) & (ts < _seconds("2018-10-01"))]
    movies = quarter["movie_id"].drop_duplicates().head(30).to_numpy()
    newcomer = pd.DataFrame(
        {
            "user_id": NEW_USER,
            "movie_id": movies,
            "rating": np.resize([3.5, 4.0, 4.5], len(movies)),
            "timestamp": _seconds("2018-09-20") + np.arange(len(movies)),
        }
    )
    rows = pd.concat([quarter, newcomer], ignore_index=True)
    return rows.assign(received_at=rows["timestamp"], model_version=served_by)


def _write_table(path: Path, rows: pd.DataFrame) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    engine = create_engine(f"sqlite:///{path}")
    metadata = MetaData()
    table = feedback_table(metadata)
    metadata.create_all(engine)
    with engine.begin() as conn:
        conn.execute(table.insert(), rows.to_dict("records"))
    engine.dispose()
    return f"sqlite:///{path}"


def _flush(folder: Path, day: str, n: int, latency: float) -> None:
    frame = pd.DataFrame(
        {
            "timestamp": np.full(n, float(_seconds(day))),
            "endpoint": "/recommend",
            "user_activity": "regular",
            "k": 10,
            "genres": "",
            "n_genres": 0,
            "exclude_seen": True,
            "cold_start": np.arange(n) % 5 == 0,
            "n_items": 10,
            "top_score": np.where(np.arange(n) % 20 == 0, np.nan, 4.2),
            "latency_ms": np.full(n, latency),
        }
    )
    target = folder / day / f"requests-{day}-test.bin"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(profile_frame(frame))


def _flush_status(folder: Path, day: str, n: int, server_errors: int) -> None:
    """``n`` API answers as the service's status profiler writes them."""
    rows = [
        status_row(
            float(_seconds(day) + i),
            STATUS_ENDPOINTS[i % len(STATUS_ENDPOINTS)],
            503 if i < server_errors else 200,
            5.0,
        )
        for i in range(n)
    ]
    frame = pd.DataFrame.from_records(rows, columns=list(STATUS_PROFILE_COLUMNS))
    target = folder / day / f"status-{day}-test.bin"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(profile_frame(frame))


@pytest.fixture(scope="module")
def monitored(default_run: Path, tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Three monitoring runs and one feedback-union run in a scratch project."""
    project = make_project(tmp_path_factory.mktemp("monitoring"))
    data = project / "data"
    for rel in ("03_primary/movies.parquet", "06_models/reference"):
        source, target = default_run / "data" / rel, data / rel
        target.parent.mkdir(parents=True, exist_ok=True)
        copy = shutil.copytree if source.is_dir() else shutil.copy2
        copy(source, target)
    ratings = pd.read_parquet(default_run / "data/03_primary/ratings.parquet")
    packaged = json.loads(
        (default_run / "data/08_reporting/packaging_summary.json").read_text()
    )
    feedback = _feedback(ratings, served_by=packaged["model_tag"])
    baseline_db = _write_table(data / "01_raw/feedback.db", feedback)
    # the next quarter: the same users rating the same movies, +0.5 stars each
    later = 92 * 86_400
    drifted = inflate_ratings(feedback, share=1.0, seed=0).assign(
        timestamp=feedback["timestamp"] + later,
        received_at=feedback["received_at"] + later,
    )
    bot_movies = feedback["movie_id"].drop_duplicates().tail(40).to_numpy()
    bot = pd.DataFrame(
        {
            "user_id": BOT,
            "movie_id": bot_movies,
            "rating": 5.0,
            "timestamp": _seconds("2018-11-02") + 3 * np.arange(len(bot_movies)),
        }
    )
    bot = bot.assign(
        received_at=bot["timestamp"], model_version=drifted["model_version"][0]
    )
    drifted_db = _write_table(
        project / "drifted.db", pd.concat([drifted, bot], ignore_index=True)
    )
    profiles = data / "07_model_output/request_profiles"
    _flush(profiles, "2018-08-01", 300, 6.0)
    _flush(profiles, "2018-09-15", 100, 10.0)
    _flush(profiles, "2018-01-01", 50, 900.0)  # outside the window
    env = {
        # What `make serve` would serve: the default run's newest bento.
        "BENTOML_HOME": str(default_run / "bentoml_home"),
        "MLFLOW_TRACKING_URI": f"sqlite:///{default_run / 'mlflow.db'}",
        "MLFLOW_EXPERIMENT_NAME": EXPERIMENT,
        "MOVIELENS_DIR": str(movielens_dir()),
    }
    decisions, reports = {}, {}
    for name, url, params in (
        ("baseline", baseline_db, WINDOW),
        ("drifted", drifted_db, NEXT_WINDOW),
    ):
        run_kedro(
            project,
            "run",
            "--pipeline",
            "monitoring",
            *params,
            env={**env, "REELOPS_FEEDBACK_DB_URL": url},
        )
        decisions[name] = json.loads((project / DECISION).read_text())
        reports[name] = (project / REPORT).read_text()
    # the baseline's window again, while the service answered 3 % of its API
    # requests with 503
    _flush_status(profiles, "2018-08-15", 1000, server_errors=30)
    run_kedro(
        project,
        "run",
        "--pipeline",
        "monitoring",
        *WINDOW,
        env={**env, "REELOPS_FEEDBACK_DB_URL": baseline_db},
    )
    decisions["paged"] = json.loads((project / DECISION).read_text())
    shutil.rmtree(profiles)
    run_kedro(
        project,
        "run",
        "--pipeline",
        "monitoring",
        "--params",
        "monitoring_window.end=2001-01-01",
        env={**env, "REELOPS_FEEDBACK_DB_URL": baseline_db},
    )
    decisions["empty"] = json.loads((project / DECISION).read_text())
    reports["empty"] = (project / REPORT).read_text()
    # before the service ever started: no feedback table at all
    no_table = run_kedro(
        project,
        "run",
        "--pipeline",
        "monitoring",
        "--params",
        "monitoring_window.end=2001-01-01",
        env={**env, "REELOPS_FEEDBACK_DB_URL": f"sqlite:///{project / 'none.db'}"},
    )
    decisions["no_table"] = json.loads((project / DECISION).read_text())
    run_kedro(project, "run", "--pipeline", "feedback_union", env=env)
    return {
        "project": project,
        "env": env,
        "feedback": feedback,
        "no_table_stdout": no_table.stdout,
        "reports": reports,
        **decisions,
    }


def test_the_reference_records_the_heads_share_at_each_tenure(
    default_run: Path,
) -> None:
    from reelops_monitoring.features import TENURE_CLASSES

    reference = default_run / "data/06_models/reference"
    # GIVEN the kedro run's reference stage on MovieLens
    summary = json.loads((reference / "reference_summary.json").read_text())
    shares = summary["head_share_by_tenure"]
    # THEN it recorded the head's share at each tenure class: newcomers rate the
    # blockbusters more than veterans do
    assert sorted(int(tenure) for tenure in shares) == list(TENURE_CLASSES)
    assert shares["0"] > 2 * shares["200"] > 0
    # AND each training user's tenure when the training data ends
    habits = pd.read_parquet(reference / "user_habits.parquet")
    assert habits["n_ratings"].sum() == summary["n_ratings"]


def test_decision_json_has_the_promised_shape(monitored: dict) -> None:
    decision = monitored["baseline"]
    # THEN the keys the trigger and promotion read are there
    assert isinstance(decision["retrain"], bool)
    assert isinstance(decision["reasons"], list)
    assert set(decision["scores"]) == {"drift", "quality", "decay", "raters"}
    assert decision["scores"]["raters"]["flagged"] == []
    assert set(decision["scores"]["drift"]["columns"]) == {
        "new_user_rating",
        "known_user_residual",
        "known_user_mean_residual",
        "known_user_weighted_residual",
        "half_star",
        "genre",
        "known_user_ratings",
        "new_user_ratings",
        "new_user",
        "known_user_half_star_shift",
        "popular_movie",
        "known_user_popular_shift",
    }
    # AND no served traffic was kept before this first window: the training data
    # is the reference of every column but the known users' shifts against the
    # model and their habits (none in training data), the head of the catalogue
    # (only windows the same deployment served) and the share of half stars (only
    # served traffic)
    assert decision["reference"]["traffic_windows"] == []
    assert decision["reference"]["deployment_windows"] == []
    columns = decision["scores"]["drift"]["columns"]
    deployment_only = {
        "known_user_residual",
        "known_user_mean_residual",
        "known_user_weighted_residual",
        "known_user_half_star_shift",
        "popular_movie",
        "known_user_popular_shift",
    }
    waiting = deployment_only | {"half_star"}
    others = {c["reference"] for n, c in columns.items() if n not in waiting}
    assert others == {"training"}
    for name in waiting:
        assert (columns[name]["reference"], columns[name]["score"]) == (None, None)
    assert any(
        n.startswith("no earlier window of served traffic is kept")
        and n.endswith("; half_star not assessed")
        for n in decision["notes"]
    )
    assert any(
        n.startswith("no earlier window of served traffic was served by this")
        and n.endswith(
            ": known_user_residual, known_user_mean_residual, "
            "known_user_weighted_residual, known_user_half_star_shift, "
            "popular_movie, known_user_popular_shift not assessed"
        )
        for n in decision["notes"]
    )
    # AND the window is kept as served traffic for the windows after it (the
    # drifted run, the next quarter, kept its own too)
    kept = sorted(
        p.name
        for p in (
            monitored["project"] / "data/07_model_output/monitoring/traffic"
        ).iterdir()
    )
    assert kept == [
        "20180701T000000-20181001T000000.bin",
        "20180701T000000-20181001T000000.json",
        "20181001T000000-20190101T000000.bin",
        "20181001T000000-20190101T000000.json",
    ]
    assert all(q["passed"] for q in decision["scores"]["quality"].values())
    # AND the window is 2018Q3 (+ the new user), assessed for drift and decay
    assert decision["window"]["n_rows"] == len(monitored["feedback"])
    assert decision["scores"]["drift"]["assessed"] is True
    assert decision["scores"]["decay"]["assessed"] is True
    assert {"rmse", "ndcg@10"} <= set(decision["performance"]["window"])
    assert {"rmse", "ndcg@10"} <= set(decision["performance"]["training"])


def test_locally_the_deployed_model_is_the_newest_bentos(monitored: dict) -> None:
    model = monitored["baseline"]["model"]
    # GIVEN the default run registered @challenger and packaged it in a bento
    client = mlflow.MlflowClient(tracking_uri=monitored["env"]["MLFLOW_TRACKING_URI"])
    version = client.get_model_version_by_alias("reelops-recommender", "challenger")
    sha = client.get_run(version.run_id).data.tags["data.sha256"]
    # THEN monitoring scored the model that bento packs (what `make serve` serves),
    # the one that answered the window's feedback, and names its training data
    assert (model["served_by"], model["version"]) == ("bento", str(version.version))
    assert model["bento_tag"].startswith("reelops-recommender:v")
    assert model["note"] == ""
    assert monitored["baseline"]["data_sha256"] == sha
    assert monitored["baseline"]["reference"]["matches_deployed_model"] is True


def test_serving_latency_and_errors_come_from_the_window_flushes(
    monitored: dict,
) -> None:
    serving = monitored["baseline"]["serving"]
    assert serving["available"] is True
    assert (serving["files"], serving["requests"]) == (2, 400)
    assert serving["latency_ms"]["max"] == 10.0
    assert serving["error_rate"] == pytest.approx(20 / 400)


def test_reports_plots_and_mlflow_run(monitored: dict) -> None:
    project = monitored["project"]
    folder = project / "data/08_reporting/monitoring"
    assert "<h1>Monitoring:" in (folder / "report.html").read_text()
    for plot in ("drift_scores", "performance", "latency"):
        assert (folder / f"{plot}.png").read_bytes()[:4] == b"\x89PNG"
    client = mlflow.MlflowClient(tracking_uri=monitored["env"]["MLFLOW_TRACKING_URI"])
    experiment = client.get_experiment_by_name(EXPERIMENT)
    runs = client.search_runs(
        [experiment.experiment_id],
        filter_string="tags.mlflow.parentRunId IS NULL",
        order_by=["attributes.start_time ASC"],
    )
    first = runs[0]
    assert first.data.tags["monitoring.status"] == monitored["baseline"]["status"]
    assert "monitoring.drift.genre.score" in first.data.metrics
    artifacts = {a.path for a in client.list_artifacts(first.info.run_id, "monitoring")}
    assert {"monitoring/decision.json", "monitoring/report.html"} <= artifacts


def _chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        pytest.fail(
            "chromium not found on PATH: apt-get install chromium", pytrace=False
        )
    return found


def _screenshot(page: Path, target: Path) -> np.ndarray:
    """The page as headless Chromium renders it, 1280 x 4000 RGB pixels."""
    done = subprocess.run(
        [
            _chromium(),
            "--headless",
            "--no-sandbox",  # CI containers run as root
            "--disable-gpu",
            "--hide-scrollbars",
            f"--user-data-dir={target.parent / 'chromium-profile'}",
            f"--screenshot={target}",
            "--window-size=1280,4000",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=180,
        check=False,
    )
    if done.returncode != 0 or not target.exists():
        last = (done.stderr.strip().splitlines() or ["no output"])[-1]
        pytest.fail(f"chromium exited {done.returncode}: {last}", pytrace=False)
    return np.asarray(Image.open(target).convert("RGB"))


def _embedded_pngs(report: str) -> list[Image.Image]:
    sources = re.findall(
        r'<img alt="[^"]*" src="data:image/png;base64,([^"]+)">', report
    )
    return [Image.open(io.BytesIO(base64.b64decode(s, validate=True))) for s in sources]


def _flagged(decision: dict) -> list[str]:
    columns = decision["scores"]["drift"]["columns"]
    return [
        c for c, d in columns.items() if d["category"] in {"DRIFT", "POSSIBLE_DRIFT"}
    ]


def test_the_report_embeds_its_plots_and_chromium_renders_them(
    monitored: dict, tmp_path: Path
) -> None:
    # GIVEN the report of the drifted run (every rating +0.5: the known users'
    # residuals in DRIFT against the baseline window, kept as served traffic)
    report = monitored["reports"]["drifted"]
    flagged = _flagged(monitored["drifted"])
    assert "known_user_residual" in flagged
    # THEN it embeds the 3 summary plots and one distribution per drifted column,
    # each a decodable, non-blank PNG; nothing is loaded from elsewhere
    images = _embedded_pngs(report)
    assert report.count("<img ") == len(images) == 3 + len(flagged)
    for image in images:
        image.load()
        assert image.format == "PNG"
        assert (image.width, image.height) >= (400, 200)
        assert np.asarray(image.convert("L")).std() > 10
    assert not re.search(r'src="(?!data:image/png;base64,)', report)
    # WHEN headless Chromium renders the file
    page = tmp_path / "report.html"
    page.write_text(report)
    pixels = _screenshot(page, tmp_path / "report.png").astype(int)
    # THEN the page is not blank, and the plots' reference bars are on screen
    # (a broken image shows its alt text only: no such blue)
    ink = (pixels < 245).any(axis=2).mean()
    blue = (np.abs(pixels - REFERENCE_BLUE).max(axis=2) <= 8).sum()
    assert ink > 0.05
    assert blue > 10_000


def test_every_drift_verdict_is_explained_and_counts_are_integers(
    monitored: dict,
) -> None:
    report, decision = monitored["reports"]["drifted"], monitored["drifted"]
    # THEN next to each column's verdict, the sentence with its effect, effective
    # sizes and score; no p-value anywhere
    for column, drift in decision["scores"]["drift"]["columns"].items():
        category = drift["category"]
        row = re.search(
            rf'<tr><th>{column}</th><td><span class="badge {category}">{category}'
            r"</span></td><td>([^<]+)</td></tr>",
            report,
        )
        assert row is not None, column
        if drift["score"] is not None:
            assert f"n_target = {round(drift['n_target']):,} " in row.group(1)
            assert f"= {drift['score']:.2f}, " in row.group(1)
            assert row.group(1).endswith(f": {category}.")
    text = re.sub(r"<img [^>]*>", "", report)
    assert "pvalue" not in text and "p-value" not in text
    # AND no count is printed as a float or with an exponent
    assert not re.search(r"<td>-?[\d,]+\.0</td>|\de[+-]\d", text)
    assert f"({decision['window']['n_rows']:,} feedback rows)" in text


def test_an_empty_window_report_says_what_it_could_not_judge(monitored: dict) -> None:
    report = monitored["reports"]["empty"]
    warning = re.search(r'<div class="warn">(.*?)</div>', report, re.DOTALL)
    assert warning is not None
    assert (
        "Drift not assessed: the window has 0 rows, fewer than the 200 drift needs"
        in warning.group(1)
    )
    assert "Decay not assessed: no window metrics (0 rated rows)." in warning.group(1)
    # the plots are still there, saying why they are empty
    assert len(_embedded_pngs(report)) == 3


def test_inflated_feedback_asks_for_a_retrain_because_of_the_residuals(
    monitored: dict,
) -> None:
    baseline, drifted = monitored["baseline"], monitored["drifted"]
    # the baseline is the first window: its residuals have nothing to be compared
    # with; kept as served traffic, it is the drifted run's reference
    residual = baseline["scores"]["drift"]["columns"]["known_user_residual"]
    assert residual["reference"] is None
    assert not any(r.startswith("drift in 'known_user_") for r in baseline["reasons"])
    assert drifted["retrain"] is True
    assert drifted["status"] == "retrain"
    assert any(
        r.startswith("drift in 'known_user_residual'") and r.endswith("vs deployment)")
        for r in drifted["reasons"]
    )
    # AND the baseline was kept with the head it was measured against, the same
    # model's: the drifted run judges popular_movie against it (the same movies
    # rated: no drift there)
    assert drifted["reference"]["deployment_windows"] == [
        "20180701T000000-20181001T000000"
    ]
    popular = drifted["scores"]["drift"]["columns"]["popular_movie"]
    assert (popular["reference"], popular["category"]) == ("deployment", "NO_DRIFT")
    assert popular["score"] is not None


def test_a_bot_is_quarantined_and_pages_a_human_the_rest_is_judged(
    monitored: dict, tmp_path: Path
) -> None:
    # GIVEN the drifted quarter, where a bot also rated 40 movies 5.0, 3 s apart
    drifted, project = monitored["drifted"], monitored["project"]
    reason = (
        f"suspicious rater quarantined: user {BOT} gave 40 ratings, 100% of them 5 "
        "(limit 90% of one value); a human should look, retraining does not fix it"
    )
    # THEN the decision names it and pages a human; the retrain stands on the
    # other users' residuals (status says retrain: it comes first)
    assert reason in drifted["reasons"]
    assert drifted["page_reasons"] == [reason]
    assert (drifted["page"], drifted["status"]) == (True, "retrain")
    assert drifted["scores"]["raters"]["flagged"] == [
        {"user_id": BOT, "n_ratings": 40, "top_rating": 5.0, "top_share": 1.0}
    ]
    # AND its rows are quarantined, left out of what was judged and accepted
    quarantine = project / "data/02_intermediate/quarantined_feedback"
    (held,) = quarantine.glob("*.parquet")
    assert held.stem == "window-20190101T000000"
    assert set(pd.read_parquet(held)["user_id"]) == {BOT}
    assert drifted["scores"]["drift"]["n_rows"] == drifted["window"]["n_rows"] - 40
    accepted = pd.read_parquet(
        project / "data/03_primary/feedback/window-20190101T000000.parquet"
    )
    assert BOT not in set(accepted["user_id"])
    # AND the CronWorkflow's check prints retrain_page: the retrain is submitted
    # (conf/base/argo.yml then.when) and ReelopsMonitoringPage fires
    decision = tmp_path / "decision.json"
    decision.write_text(json.dumps(drifted))
    check = [sys.executable, "-m", "reelops.retrain", "--should-retrain"]
    printed = subprocess.run(
        [*check, "--print-status", str(decision)],
        capture_output=True,
        text=True,
        check=True,
    )
    assert printed.stdout == "retrain_page"


def test_an_empty_window_without_profiles_is_not_enough_feedback(
    monitored: dict,
) -> None:
    empty = monitored["empty"]
    assert (empty["retrain"], empty["reasons"]) == (False, [])
    assert empty["status"] == "not_enough_feedback"
    assert empty["notes"][0].startswith("not enough feedback: 0 rating(s) from")
    assert empty["serving"]["available"] is False
    assert empty["serving"]["reason"].startswith("no serving request profile for")


def test_no_feedback_table_yet_is_a_decision_not_an_error(monitored: dict) -> None:
    # GIVEN a database in which the service never created the feedback table
    decision = monitored["no_table"]
    # THEN the run succeeded (run_kedro checks it) and the decision says why
    assert (decision["retrain"], decision["reasons"]) == (False, [])
    assert decision["status"] == "not_enough_feedback"
    assert decision["notes"][0] == (
        "no feedback yet: the feedback table is empty or does not exist "
        "(POST /feedback fills it); nothing to assess"
    )
    # AND the console said so in one line, with no traceback
    none_db = monitored["project"] / "none.db"
    assert (
        f"WARNING: no feedback yet: no table 'feedback' at sqlite:///{none_db} "
        "(the service creates it when it starts; POST /feedback fills it)"
    ) in monitored["no_table_stdout"].splitlines()
    assert "Traceback" not in monitored["no_table_stdout"]


def test_accepted_feedback_reaches_the_training_ratings(monitored: dict) -> None:
    project = monitored["project"]
    # GIVEN the monitoring runs kept each window's valid feedback
    partitions = sorted((project / "data/03_primary/feedback").glob("*.parquet"))
    assert [p.stem for p in partitions] == [
        "window-20010101T000000",
        "window-20181001T000000",
        "window-20190101T000000",
    ]
    # WHEN feedback_union ran: THEN the new user's ratings were appended once
    # (the drifted quarter rated the same pairs again: each pair is kept once)
    union = pd.read_parquet(
        project / "data/05_model_input/ratings_for_training.parquet"
    )
    ratings = pd.read_parquet(project / "data/03_primary/ratings.parquet")
    assert len(union) == len(ratings) + 30
    assert (union["user_id"] == NEW_USER).sum() == 30
    lineage = json.loads(
        (project / "data/05_model_input/ratings_for_training.json").read_text()
    )
    assert lineage["sha256"] != lineage["raw_sha256"]
    # AND the run's data.sha256 tag covers the feedback (promotion tells them apart)
    client = mlflow.MlflowClient(tracking_uri=monitored["env"]["MLFLOW_TRACKING_URI"])
    experiment = client.get_experiment_by_name(EXPERIMENT)
    (last,) = client.search_runs(
        [experiment.experiment_id],
        filter_string="tags.mlflow.parentRunId IS NULL",
        order_by=["attributes.start_time DESC"],
        max_results=1,
    )
    assert last.data.tags["data.sha256"] == lineage["sha256"]
    assert last.data.tags["data.sha256.raw"] == lineage["raw_sha256"]


def test_server_errors_page_a_human_and_do_not_retrain(monitored: dict) -> None:
    # GIVEN the baseline's window, but 3 % of the service's answers were 503s
    baseline, paged = monitored["baseline"], monitored["paged"]
    # THEN the data says what it said before; the service's answers page a human
    assert (baseline["page"], baseline["status"]) == (False, "ok")
    assert paged["retrain"] is False
    assert paged["reasons"] == baseline["reasons"] == []
    assert (paged["page"], paged["status"]) == (True, "page")
    assert paged["page_reasons"] == [
        "page: 5xx rate 3.00% > 1.00% (30 of 1,000 API answers; errors are not "
        "fixed by retraining)"
    ]
    answers = paged["serving"]["answers"]
    assert answers["by_class"] == {"2xx": 970, "5xx": 30}
    assert answers["latency_ms"]["/recommend"]["count"] == 250
    assert paged["serving"]["health"]["rate_5xx"] == 0.03
