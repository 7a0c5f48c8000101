"""Serving benchmark: the BentoML service vs a bare Starlette/uvicorn app, same model.

    .venv/bin/python bench/serving.py [--project DIR]  # -> reports/bench/serving.json

Needs a trained project (``make run``: data/06_models, data/04_feature; ``--project``
defaults to this checkout) and ``wrk``
(``apt-get install -y wrk``). The champion of data/08_reporting/champion_decision.json
is bundled exactly as the packaging pipeline bundles it, saved to a temporary
BentoML home, and served on 127.0.0.1 by:

* ``bentoml``: ``bentoml serve reelops_serving.service:Recommender`` as deployed
  (auth off, rate limit off, request profiling on, the precomputed top-N table of
  :mod:`reelops_serving.topn` on);
* ``bare``: a Starlette app on uvicorn calling the same ``RecommenderEngine`` (the
  same top-N table) with the same request/response models (no middleware, no
  profiling, no feedback lookup);
* ``bentoml_2w`` and ``bare_2w``: the same two with 2 worker processes each
  (BentoML's ``services.<name>.workers``, uvicorn's ``--workers``), compared with
  each other: like with like;
* ``bentoml_no_top_n``: the service with ``top_n.size: 0`` (the model answers
  every request), to show what the table buys;
* ``bentoml_profiling_off``: the service with request profiling disabled;
* ``bentoml_exclusion_cache_off``: the service with
  ``feedback.exclusion_cache_seconds: 0`` (every ``/recommend`` asks the feedback
  database for the movies its user rated), to show what the cache buys;
* ``bentoml_timeout_60s``: the service with BentoML's default 60 s
  ``traffic.timeout`` (the p99 tail: every request's timer object lives that long
  and gen-2 collections walk them).

The servers run side by side (idle but for the one being measured); each is warmed
for ``--warmup`` seconds (> 60 s, so that timers of the warm-up have expired and the
heap is in steady state), then ``wrk`` (a separate process; Lua script: users
drawn from the trained users plus 10 % unknown ones, k in {5, 10, 20}, a genre
filter on 20 % of requests) runs ``--duration`` seconds per variant and
concurrency, alternating between variants so that the load of a shared machine
hits them alike. Every figure in the report is computed from wrk's output, and
``summary.goals_met`` from those figures (issue 15: p99 <= 20 ms at 16 connections,
>= 0.7x the bare app's req/s with as many workers, 0 errors).

Shorter development runs (the figures are computed the same way)::

    .venv/bin/python bench/serving.py --warmup 10 --duration 8 --rounds 1 --output x
    .venv/bin/python bench/serving.py --only bentoml bare --warmup 10 --duration 8
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING, Any

from _common import QUIET as COMMON_QUIET

from reelops_serving.config import TopNSettings

if TYPE_CHECKING:
    from starlette.requests import Request

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
QUIET = {
    **COMMON_QUIET,
    "NUMBA_NUM_THREADS": "1",
    "OMP_NUM_THREADS": "1",
}
#: The connections the goals are set at (measured in several rounds).
GOAL_CONNECTIONS = 16
#: Issue 15, point 4 (the ratio against the bare app with as many workers).
GOALS = {
    "bentoml_vs_bare_rps_ratio_min": 0.7,
    "p99_ms_max_at_16": 20.0,
    "errors": 0,
    "profiling_cost_max": 0.10,
}
#: The service's name in BentoML's configuration (``services.<name>``).
SERVICE_NAME = "reelops_recommender"
#: Each BentoML variant and its like-for-like peer, by worker count.
PAIRS = {"1_worker": ("bentoml", "bare"), "2_workers": ("bentoml_2w", "bare_2w")}

LUA = r"""
local users = {USERS}
local genres = {"Comedy", "Drama", "Action", "Thriller", "Romance", "Sci-Fi"}
local ks = {5, 10, 20}
local counter = 0
function setup(thread)
  counter = counter + 1
  thread:set("seed", counter)
end
function init(args)
  math.randomseed(42 + (seed or 0))
end
function request()
  local user = users[math.random(#users)]
  if math.random() < 0.10 then user = 900000 + math.random(99999) end
  local body = '{"user_id": ' .. user .. ', "k": ' .. ks[math.random(#ks)]
  if math.random() < 0.20 then
    body = body .. ', "genres": ["' .. genres[math.random(#genres)] .. '"]'
  end
  body = body .. '}'
  return wrk.format("POST", "/recommend", {["Content-Type"] = "application/json"}, body)
end
function done(summary, latency, requests)
  local e = summary.errors
  io.write(string.format(
    'WRKJSON {"requests": %d, "duration_us": %d, "p50_us": %d, "p95_us": %d, '
    .. '"p99_us": %d, "max_us": %d, "connect": %d, "read": %d, "write": %d, '
    .. '"status": %d, "timeout": %d}\n',
    summary.requests, summary.duration, latency:percentile(50),
    latency:percentile(95), latency:percentile(99), latency.max,
    e.connect, e.read, e.write, e.status, e.timeout))
end
"""


# ------------------------------------------------------------------ the model
def save_bundle(project: Path, home: Path) -> tuple[str, list[int]]:
    """Bundle the project's trained champion into ``home``; return tag and users."""
    import pandas as pd
    import yaml

    from reelops.datasets.bento_model import BentoModelDataset
    from reelops.nodes.packaging import assemble_serving_bundle

    data = project / "data"
    decision_file = data / "08_reporting/champion_decision.json"
    if not decision_file.exists():
        raise SystemExit(f"{decision_file} not found: run `make run` first")
    decision = json.loads(decision_file.read_text())
    champion = decision["champion"]
    model_pkl = data / "06_models" / champion / "model.pkl"
    if not model_pkl.exists():
        raise SystemExit(f"{model_pkl} not found: run `make run` first")
    import pickle

    with model_pkl.open("rb") as handle:
        estimator = pickle.load(handle)  # the project's own model
    params = yaml.safe_load(
        (REPO / "conf/base/parameters_data_processing.yml").read_text()
    )
    bundle, _ = assemble_serving_bundle(
        champion_decision={**decision, "register": True},
        challenger_model=estimator,
        challenger_version={
            "model_name": "reelops-recommender",
            "alias": "challenger",
            "version": "0",
            "run_id": "bench0000",
            "registered_in_active_run": True,
            "tags": {},
            "run_tags": {},
            "metrics": {},
        },
        movie_features=pd.read_parquet(data / "04_feature/movie_features.parquet"),
        user_features=pd.read_parquet(data / "04_feature/user_features.parquet"),
        validation=params["validation"],
        packaging={"model_name": "reelops-recommender"},
    )
    BentoModelDataset(model_name="reelops-recommender", bentoml_home=str(home)).save(
        bundle
    )
    return bundle.tag, [int(u) for u in estimator.user_ids_]


# ------------------------------------------------------------------ bare app
def bare_app() -> Any:
    """Starlette app serving /recommend from the same engine (uvicorn --factory)."""
    import bentoml
    from starlette.applications import Starlette
    from starlette.responses import JSONResponse, Response
    from starlette.routing import Route

    from reelops_serving.bundle import load_bundle
    from reelops_serving.config import load_settings
    from reelops_serving.engine import RecommenderEngine
    from reelops_serving.heap import settle_heap
    from reelops_serving.schemas import RecommendRequest, RecommendResponse

    stored = bentoml.models.get(os.environ["REELOPS_MODEL_TAG"])
    top_n = load_settings().top_n  # the service's configuration file: same table
    engine = RecommenderEngine(
        load_bundle(
            Path(stored.path),
            tag=str(stored.tag),
            metadata=dict(stored.info.metadata),
            labels=dict(stored.info.labels),
        ),
        top_n=top_n.size,
        top_n_max_users=top_n.max_users,
    )
    engine.warm_up()
    settle_heap()  # the same GC settings as the service: a like-for-like baseline

    async def recommend(request: Request) -> Response:
        try:
            req = RecommendRequest.model_validate_json(await request.body())
        except ValueError as exc:
            return JSONResponse({"error": str(exc).splitlines()[0]}, status_code=400)
        ranked = engine.recommend(
            [req.user_id], req.k, exclude_seen=req.exclude_seen, genres=req.genres
        )[0]
        body = RecommendResponse.model_construct(
            user_id=req.user_id,
            items=engine.items(ranked),
            cold_start=ranked.fallback,
            model_version=engine.tag,
        )
        return Response(body.model_dump_json(), media_type="application/json")

    async def ready(_: Request) -> Response:
        return Response("\n")

    return Starlette(
        routes=[
            Route("/recommend", recommend, methods=["POST"]),
            Route("/readyz", ready),
        ]
    )


def serve_bare(port: int, workers: int) -> None:
    """Serve :func:`bare_app` on 127.0.0.1:``port`` with ``workers`` processes.

    The processes are forked after the listening socket is made, as
    ``uvicorn --workers`` does, but the socket keeps its protocol: uvicorn's
    spawned workers rebuild it without one, asyncio then leaves Nagle's algorithm
    on, and every keep-alive response waits ~40 ms for a delayed ACK (measured:
    p50 44 ms at 1 connection).
    """
    import socket

    import uvicorn

    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind(("127.0.0.1", port))
    sock.listen(2048)
    children = []
    for _ in range(workers):
        pid = os.fork()
        if pid == 0:
            config = uvicorn.Config(
                bare_app, factory=True, access_log=False, log_level="warning"
            )
            uvicorn.Server(config).run(sockets=[sock])
            os._exit(0)
        children.append(pid)
    for pid in children:
        os.waitpid(pid, 0)


# ------------------------------------------------------------------ servers
def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def wait_ready(url: str, proc: subprocess.Popen[bytes], timeout: float = 300) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode} before {url}")
        try:
            with urllib.request.urlopen(url, timeout=2) as resp:  # loopback only
                if resp.status == 200:
                    return
        except OSError:
            time.sleep(0.5)
    raise SystemExit(f"{url} not ready within {timeout} s")


def start(
    variant: str, env: dict[str, str], scratch: Path
) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    log = (scratch / f"{variant}.log").open("wb")
    if variant.startswith("bare"):
        workers = int(env.get("BENCH_WORKERS", "1"))
        cmd = [
            sys.executable,
            "-c",
            f"import sys; sys.path.insert(0, {str(REPO / 'bench')!r}); "
            f"import serving; serving.serve_bare({port}, {workers})",
        ]
    else:
        cmd = [
            str(BIN / "bentoml"),
            "serve",
            "reelops_serving.service:Recommender",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ]
    proc = subprocess.Popen(
        cmd,
        cwd=scratch,
        env={**os.environ, **QUIET, **env},
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    return proc, f"http://127.0.0.1:{port}"


def stop(proc: subprocess.Popen[bytes]) -> None:
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=10)


# ------------------------------------------------------------------ load
def wrk(url: str, script: Path, connections: int, seconds: int) -> dict[str, Any]:
    """One wrk run; the figures it printed, in ms and req/s."""
    threads = 1 if connections == 1 else 2
    out = subprocess.run(
        [
            "wrk",
            f"-t{threads}",
            f"-c{connections}",
            f"-d{seconds}s",
            "--timeout",
            "10s",
            "-s",
            str(script),
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
        timeout=seconds + 60,
    ).stdout
    line = next(x for x in out.splitlines() if x.startswith("WRKJSON "))
    raw = json.loads(line.removeprefix("WRKJSON "))
    errors = sum(raw[k] for k in ("connect", "read", "write", "status", "timeout"))
    return {
        "connections": connections,
        "requests": raw["requests"],
        "seconds": round(raw["duration_us"] / 1e6, 2),
        "rps": round(raw["requests"] / (raw["duration_us"] / 1e6), 1),
        "p50_ms": round(raw["p50_us"] / 1e3, 2),
        "p95_ms": round(raw["p95_us"] / 1e3, 2),
        "p99_ms": round(raw["p99_us"] / 1e3, 2),
        "max_ms": round(raw["max_us"] / 1e3, 2),
        "errors": errors,
        "non_2xx": raw["status"],
    }


def run_variants(
    variants: dict[str, tuple[dict[str, str], list[int]]],
    scratch: Path,
    script: Path,
    *,
    warmup: int,
    duration: int,
    rounds: int,
) -> dict[str, Any]:
    """Start every server, warm them together, then measure them interleaved.

    Measurements alternate between variants (c=1 for each, then c=16 for each,
    ...), so that a change of load on the machine hits every variant alike; the
    1-minute load average is recorded with each measurement. The goal's
    concurrency (16) is measured ``rounds`` times per variant, still interleaved:
    one 20 s run on a shared 2-core machine can lose a third of its throughput to
    a neighbour, and :func:`at` reports the median round.
    """
    servers: dict[str, tuple[subprocess.Popen[bytes], str]] = {}
    report: dict[str, Any] = {}
    try:
        for name, (env, _) in variants.items():
            started = time.monotonic()
            servers[name] = start(name, env, scratch)
            wait_ready(f"{servers[name][1]}/readyz", servers[name][0])
            startup = round(time.monotonic() - started, 1)
            report[name] = {"startup_seconds": startup, "runs": []}
            print(f"[{name}] ready in {startup} s", flush=True)
        print(f"warming every server for {warmup} s", flush=True)
        with ThreadPoolExecutor(len(servers)) as pool:
            list(pool.map(lambda s: wrk(s[1], script, 16, warmup), servers.values()))
        for connections in sorted({c for _, cs in variants.values() for c in cs}):
            for round_ in range(rounds if connections == GOAL_CONNECTIONS else 1):
                for name, (_, concurrency) in variants.items():
                    if connections not in concurrency:
                        continue
                    result = wrk(servers[name][1], script, connections, duration)
                    result["round"] = round_ + 1
                    result["load_average_1m"] = round(os.getloadavg()[0], 2)
                    print(f"[{name}] {result}", flush=True)
                    report[name]["runs"].append(result)
        return report
    finally:
        for proc, _ in servers.values():
            stop(proc)


def at(report: dict[str, Any], variant: str, connections: int) -> dict[str, Any]:
    """The run of ``variant`` at ``connections``; of several rounds, the median
    one by throughput (its latencies come with it, from the same run)."""
    runs = sorted(
        (r for r in report[variant]["runs"] if r["connections"] == connections),
        key=lambda r: r["rps"],
    )
    return runs[(len(runs) - 1) // 2]


def latencies(report: dict[str, Any], variant: str) -> dict[str, Any]:
    """p50, p99 and req/s of ``variant`` at each concurrency it was measured at."""
    return {
        str(c): {k: at(report, variant, c)[k] for k in ("p50_ms", "p99_ms", "rps")}
        for c in sorted({r["connections"] for r in report[variant]["runs"]})
    }


def summarize(report: dict[str, Any]) -> dict[str, Any]:
    """The figures of the goals and whether each is met, from the runs alone."""
    errors = sum(r["errors"] for v in report.values() for r in v["runs"])
    by_workers: dict[str, Any] = {}
    for label, (service, peer) in PAIRS.items():
        mine, theirs = at(report, service, 16), at(report, peer, 16)
        ratio = mine["rps"] / theirs["rps"]
        own_errors = sum(r["errors"] for r in report[service]["runs"])
        by_workers[label] = {
            "bentoml_vs_bare_rps_ratio_at_16": round(ratio, 3),
            "bentoml_p99_ms_at_16": mine["p99_ms"],
            "errors": own_errors,
            # a worker serves one request at a time: at 16 connections the mean
            # latency cannot be below 16 / throughput (Little's law)
            "queueing_floor_ms_at_16": {
                service: round(16 / mine["rps"] * 1e3, 1),
                peer: round(16 / theirs["rps"] * 1e3, 1),
            },
            "latency": {
                service: latencies(report, service),
                peer: latencies(report, peer),
            },
            "goals_met": {
                "p99_at_16": mine["p99_ms"] <= GOALS["p99_ms_max_at_16"],
                "rps_ratio": ratio >= GOALS["bentoml_vs_bare_rps_ratio_min"],
                "errors": own_errors == GOALS["errors"],
            },
        }
    bento16 = at(report, "bentoml", 16)
    profiling_cost = 1 - bento16["rps"] / at(report, "bentoml_profiling_off", 16)["rps"]
    model16 = at(report, "bentoml_no_top_n", 16)
    uncached16 = at(report, "bentoml_exclusion_cache_off", 16)
    return {
        "by_workers": by_workers,
        "top_n_vs_model_at_16": {
            "rps_ratio": round(bento16["rps"] / model16["rps"], 3),
            "p99_ms": [bento16["p99_ms"], model16["p99_ms"]],
        },
        "exclusion_cache_vs_off_at_16": {
            "rps_ratio": round(bento16["rps"] / uncached16["rps"], 3),
            "p99_ms": [bento16["p99_ms"], uncached16["p99_ms"]],
        },
        "profiling_cost_at_16": round(profiling_cost, 3),
        "errors": errors,
        f"p99_ms_at_1_timeout_{service_timeout()}s_vs_60s": [
            at(report, "bentoml", 1)["p99_ms"],
            at(report, "bentoml_timeout_60s", 1)["p99_ms"],
        ],
        "goals": GOALS,
        "goals_met": {
            # the serving goal: p99, ratio and no error, all with one worker count
            "serving": any(all(w["goals_met"].values()) for w in by_workers.values()),
            "serving_by_workers": {
                label: all(w["goals_met"].values()) for label, w in by_workers.items()
            },
            "errors": errors == GOALS["errors"],
            "profiling_cost": profiling_cost <= GOALS["profiling_cost_max"],
        },
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--project", type=Path, default=REPO)
    parser.add_argument(
        "--only", nargs="*", default=None, help="run these variants only (no report)"
    )
    parser.add_argument("--warmup", type=int, default=65)
    parser.add_argument("--duration", type=int, default=20)
    parser.add_argument(
        "--rounds", type=int, default=3, help="runs per variant at 16 connections"
    )
    parser.add_argument(
        "--output", type=Path, default=REPO / "reports/bench/serving.json"
    )
    args = parser.parse_args()
    if shutil.which("wrk") is None:
        raise SystemExit("wrk not found: apt-get install -y wrk")
    scratch = Path(tempfile.mkdtemp(prefix="reelops-bench-"))
    home = scratch / "bentoml"
    try:
        tag, users = save_bundle(args.project, home)
        script = scratch / "mixed.lua"
        script.write_text(LUA.replace("{USERS}", "{" + ",".join(map(str, users)) + "}"))
        base = {
            "BENTOML_HOME": str(home),
            "REELOPS_MODEL_TAG": tag,
            "REELOPS_ENV": "local",
            "REELOPS_API_TOKENS": "",
            "REELOPS_API_TOKENS_FILE": "",
            "REELOPS_FEEDBACK_DB_URL": f"sqlite:///{scratch / 'feedback.db'}",
            "REELOPS_PROFILE_PATH": str(scratch / "profiles"),
        }

        def config(name: str, data: dict[str, Any]) -> dict[str, str]:
            path = scratch / f"{name}.yaml"
            path.write_text(json.dumps(data))
            return {"REELOPS_SERVING_CONFIG": str(path)}

        no_limit = {"rate_limit": {"enabled": False}}

        def workers(n: int) -> dict[str, str]:
            """``n`` worker processes: BentoML's service config, uvicorn's flag."""
            path = scratch / f"bentoml_{n}w.yaml"
            path.write_text(json.dumps({"services": {SERVICE_NAME: {"workers": n}}}))
            return {"BENTOML_CONFIG": str(path), "BENCH_WORKERS": str(n)}

        on = config("on", no_limit)
        variants: dict[str, tuple[dict[str, str], list[int]]] = {
            "bentoml": ({**base, **on}, [1, 16, 64]),
            "bare": ({**base, **on}, [1, 16, 64]),
            "bentoml_2w": ({**base, **on, **workers(2)}, [1, 16, 64]),
            "bare_2w": ({**base, **on, **workers(2)}, [1, 16, 64]),
            "bentoml_no_top_n": (
                {**base, **config("model", {**no_limit, "top_n": {"size": 0}})},
                [1, 16],
            ),
            "bentoml_profiling_off": (
                {
                    **base,
                    **config("off", {**no_limit, "profiling": {"enabled": False}}),
                },
                [16],
            ),
        }
        variants["bentoml_exclusion_cache_off"] = (
            {
                **base,
                **config(
                    "no_cache", {**no_limit, "feedback": {"exclusion_cache_seconds": 0}}
                ),
            },
            [16],
        )
        timeout_60 = scratch / "bentoml_timeout_60.yaml"
        timeout_60.write_text(
            json.dumps({"services": {SERVICE_NAME: {"traffic": {"timeout": 60}}}})
        )
        variants["bentoml_timeout_60s"] = (
            {**base, **on, "BENTOML_CONFIG": str(timeout_60)},
            [1, 16],
        )
        if args.only is not None:
            variants = {k: v for k, v in variants.items() if k in args.only}
        report = run_variants(
            variants,
            scratch,
            script,
            warmup=args.warmup,
            duration=args.duration,
            rounds=args.rounds,
        )
        if args.only is not None:
            return
        summary = summarize(report)
        payload = {
            "benchmark": "POST /recommend, mixed users (10% unknown), k 5/10/20, 20% "
            "with a genre filter; wrk on 127.0.0.1; each BentoML variant against "
            "the bare Starlette app with as many workers, on the same engine "
            "(top-N table included); variants measured alternately",
            "model": {
                "tag": tag,
                "estimator": type_of(home, tag),
                "users": len(users),
                "top_n_size": TopNSettings().size,
            },
            "method": {
                "warmup_seconds": args.warmup,
                "duration_seconds": args.duration,
                "rounds_at_16": args.rounds,
                "figures": "median round by req/s at 16 connections",
                "load_generator": "wrk 4 (separate process); p99 from its histogram",
                "variants": {
                    "bentoml": "the service as deployed (1 worker, top-N on, "
                    "profiling on, rate limit off)",
                    "bare": "Starlette/uvicorn, same engine and top-N, 1 worker",
                    "bentoml_2w / bare_2w": "the same with 2 worker processes",
                    "bentoml_no_top_n": "the service with top_n.size 0 (the model "
                    "answers every request)",
                    "bentoml_profiling_off": "the service without request profiles",
                    "bentoml_exclusion_cache_off": "the service with "
                    "feedback.exclusion_cache_seconds 0 (one feedback query per "
                    "/recommend)",
                    "bentoml_timeout_60s": "the service with BentoML's default 60 s "
                    "traffic.timeout",
                },
            },
            "machine": {
                "python": platform.python_version(),
                "platform": platform.platform(),
                "cpu_count": os.cpu_count(),
                "load_average_1_5_15_at_end": [round(x, 2) for x in os.getloadavg()],
                "server_numba_threads": int(QUIET["NUMBA_NUM_THREADS"]),
            },
            "summary": summary,
            "variants": report,
        }
        args.output.parent.mkdir(parents=True, exist_ok=True)
        args.output.write_text(json.dumps(payload, indent=2) + "\n")
        print(json.dumps(summary, indent=2))
    finally:
        shutil.rmtree(scratch, ignore_errors=True)


def service_timeout() -> int:
    """The service's own ``traffic.timeout`` (the variant it is compared with: 60 s)."""
    from reelops_serving.service import TRAFFIC_TIMEOUT_SECONDS

    return TRAFFIC_TIMEOUT_SECONDS


def type_of(home: Path, tag: str) -> str:
    import yaml

    name, version = tag.split(":")
    info = yaml.safe_load((home / "models" / name / version / "model.yaml").read_text())
    return str(info["labels"]["estimator"])


if __name__ == "__main__":
    main()
