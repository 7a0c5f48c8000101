"""CI/CD workflows: valid for actionlint, every step they run is a make target, and
every step runs on a bare GitHub runner: nothing outside the repo, downloads cached."""

from __future__ import annotations

import re
import runpy
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.conftest import RAW_MOVIELENS, REPO, VENV_BIN

WORKFLOWS = sorted((REPO / ".github" / "workflows").glob("*.yml"))
MAKE_STEP = re.compile(
    r"^make (?P<target>[a-z][a-z0-9-]*)(?: [A-Z_]+=(?:\$\{\{ [a-z.]+ \}\}|\S+))*$"
)
APP_TOKEN = "${{ steps.app-token.outputs.token }}"

# What a GitHub runner does not have: the shared copies on our machines, anything
# above the checkout, and absolute paths other than the runner's own.
OUTSIDE_THE_REPO = {
    "a parent directory": re.compile(r"\.\./"),
    "/work": re.compile(r"/work(/|\b)"),
    "the shared copies": re.compile(r"shared/"),
    "the home directory": re.compile(r"(?<![\w/.])~(/|$)|\$\{?HOME\b"),
    "an absolute path": re.compile(r"(?:^|(?<=[\s'\"=(,:\[]))/(?!/)[^\s'\"`),;]*"),
}
RUNNER_PATHS = ("/tmp/", "/dev/null", "/usr/bin/", "/opt/hostedtoolcache/")


def make_targets() -> set[str]:
    text = (REPO / "Makefile").read_text()
    return set(re.findall(r"^([a-z][a-z0-9-]*):", text, flags=re.MULTILINE))


def load(path: Path) -> dict[str, Any]:
    return yaml.safe_load(path.read_text())


def run_steps() -> list[tuple[str, str]]:
    steps = []
    for path in WORKFLOWS:
        for job in load(path)["jobs"].values():
            steps += [(path.name, s["run"]) for s in job["steps"] if "run" in s]
    return steps


def strings(node: Any, where: str) -> Iterator[tuple[str, str]]:
    """Every string in ``node`` (keys and values), with where it sits."""
    if isinstance(node, dict):
        for key, value in node.items():
            yield from strings(key, where)
            yield from strings(value, f"{where}.{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from strings(value, f"{where}[{i}]")
    elif isinstance(node, str):
        yield where, node


def outside_the_repo(doc: dict[str, Any]) -> list[str]:
    """What the steps of a workflow (run, with, env, defaults, at every level) refer
    to outside the checkout."""
    scoped = {key: doc[key] for key in ("env", "defaults", "jobs") if key in doc}
    found = []
    for where, text in strings(scoped, "workflow"):
        for what, pattern in OUTSIDE_THE_REPO.items():
            for match in pattern.finditer(text):
                if what == "an absolute path" and match[0].startswith(RUNNER_PATHS):
                    continue
                found.append(f"{where}: {what} ({match[0]!r} in {text!r})")
    return found


def make_targets_of(job: dict[str, Any]) -> list[tuple[int, str]]:
    """(step index, make target) of every run step of ``job``."""
    return [
        (i, MAKE_STEP.match(step["run"].strip())["target"])
        for i, step in enumerate(job["steps"])
        if "run" in step
    ]


def jobs() -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (path.name, name, job)
        for path in WORKFLOWS
        for name, job in load(path)["jobs"].items()
    ]


JOB_IDS = [f"{workflow}:{name}" for workflow, name, _ in jobs()]


def test_the_four_workflows_exist() -> None:
    assert {p.name for p in WORKFLOWS} == {
        "pull-request.yml",
        "main.yml",
        "deploy.yml",
        "promote.yml",
    }


def test_actionlint_passes() -> None:
    proc = subprocess.run(
        [str(VENV_BIN / "actionlint"), *map(str, WORKFLOWS)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr


@pytest.mark.parametrize(("workflow", "command"), run_steps())
def test_every_run_step_is_a_make_target(workflow: str, command: str) -> None:
    match = MAKE_STEP.match(command.strip())
    assert match, f"{workflow}: `{command}` is not a make target"
    assert match["target"] in make_targets(), (
        f"{workflow}: no make target {match['target']}"
    )


def test_every_workflow_target_runs_in_ci_or_in_a_test() -> None:
    ci = (REPO / ".ci" / "run").read_text()
    used = {MAKE_STEP.match(c.strip())["target"] for _, c in run_steps()}
    # promote-prod and promote-sync run the same `kedro promote` code paths that
    # tests/promotion exercises in-process, and tests/gitops runs retrain (through
    # monitor), promote-prod and promote-sync as make targets; the rest run in
    # .ci/run as they are.
    exercised_by_tests = {"promote-prod", "promote-sync", "retrain"}
    missing = {t for t in used if f"make {t}" not in ci} - exercised_by_tests
    assert not missing, f"targets CI never runs: {sorted(missing)}"


@pytest.mark.parametrize(
    ("target", "expected"),
    [
        ("promote-staging", "kedro promote --to staging"),
        ("promote-prod", "kedro promote --to prod"),
        ("promote-sync", "kedro promote --sync"),
        ("rollback ENV=prod", "kedro promote --rollback prod"),
    ],
)
def test_promotion_targets_call_kedro_promote(target: str, expected: str) -> None:
    proc = subprocess.run(
        ["make", "-n", *target.split()],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    assert expected in proc.stdout


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_no_step_needs_a_path_outside_the_repo(workflow: Path) -> None:
    assert outside_the_repo(load(workflow)) == []


@pytest.mark.parametrize(
    "text",
    [
        "make test MOVIELENS_DIR=../shared/data/movielens/ml-latest-small",
        "make argo-check KEDRO_HERA_ARGO_SCHEMA=/work/shared/schemas/schema.json",
        "shared/schemas/argo-workflows/v4.1.2/schema.json",
        "/etc/argo/schema.json",
        "/work",
        "~/movielens",
        "$HOME/movielens",
    ],
)
@pytest.mark.parametrize("field", ["run", "with", "env", "job-env", "workflow-env"])
def test_a_reference_outside_the_repo_is_found(text: str, field: str) -> None:
    # GIVEN a workflow with the reference in a step, a job or the workflow
    step: dict[str, Any] = {"run": "make test"}
    job: dict[str, Any] = {"runs-on": "ubuntu-24.04", "steps": [step]}
    doc: dict[str, Any] = {"on": "push", "jobs": {"checks": job}}
    if field == "run":
        step["run"] = text
    elif field == "with":
        step.update({"uses": "actions/cache@v4", "with": {"path": text}})
    elif field == "env":
        step["env"] = {"SCHEMA": text}
    elif field == "job-env":
        job["env"] = {"SCHEMA": text}
    else:
        doc["env"] = {"SCHEMA": text}
    # THEN it is reported
    assert outside_the_repo(doc)


@pytest.mark.parametrize(
    "text",
    [
        "https://raw.githubusercontent.com/argoproj/argo-workflows/v4.1.2/x.json",
        "data/01_raw/ml-latest-small",
        ".cache/argo-workflows",
        "movielens-${{ hashFiles('conf/base/globals.yml') }}",
        "${{ runner.temp }}/wheelhouse",
        "/tmp/reelops",
        "deploy/environments/**",
    ],
)
def test_paths_inside_the_repo_or_the_runner_are_fine(text: str) -> None:
    doc = {"jobs": {"j": {"steps": [{"uses": "x/y@v1", "with": {"path": text}}]}}}
    assert outside_the_repo(doc) == []


def test_run_steps_run_from_the_checkout_root() -> None:
    # A make target runs from the repo root, as it does locally and in .ci/run.
    for path in WORKFLOWS:
        doc = load(path)
        assert "working-directory" not in str(doc.get("defaults", {})), path.name
        for job in doc["jobs"].values():
            assert "working-directory" not in str(job.get("defaults", {})), path.name
            for step in job["steps"]:
                assert "working-directory" not in step, f"{path.name}: {step}"


def cache_steps(job: dict[str, Any]) -> dict[str, tuple[int, str]]:
    """path -> (step index, key) of every actions/cache step of ``job``."""
    return {
        step["with"]["path"]: (i, step["with"]["key"])
        for i, step in enumerate(job["steps"])
        if step.get("uses", "").startswith("actions/cache@")
    }


def test_the_movielens_cache_is_the_pipelines_default_directory() -> None:
    globals_ = (REPO / "conf" / "base" / "globals.yml").read_text()
    default = re.search(
        r"^movielens_dir: \$\{oc\.env:MOVIELENS_DIR,(.+)\}$", globals_, re.M
    )
    assert default, "conf/base/globals.yml: movielens_dir has no default"
    assert REPO / default[1] == RAW_MOVIELENS


@pytest.mark.parametrize(("workflow", "name", "job"), jobs(), ids=JOB_IDS)
def test_downloads_are_cached_before_the_steps_that_need_them(
    workflow: str, name: str, job: dict[str, Any]
) -> None:
    # GIVEN the caches the job restores and the make targets it runs
    caches = cache_steps(job)
    targets = make_targets_of(job)
    schema_cache = runpy.run_path(str(REPO / ".ci" / "argo-schema"))["CACHE"]
    needs = {
        # MovieLens: the tests and kedro run download it into the pipeline's default
        str(RAW_MOVIELENS.relative_to(REPO)): (
            {"test", "test-system", "run"},
            "movielens-${{ hashFiles('conf/base/globals.yml') }}",
        ),
        # The Argo schema: the tests, argo-lint (a pre-commit hook) and argo-check
        str(schema_cache.relative_to(REPO).parents[1]): (
            {"test", "test-system", "lint", "argo-check"},
            "argo-schema-${{ hashFiles('.ci/argo-schema') }}",
        ),
    }
    for path, (users, key) in needs.items():
        first_use = min((i for i, t in targets if t in users), default=None)
        if first_use is None:
            continue
        # THEN a cache of that path, keyed by the file pinning the sums, comes first
        assert path in caches, f"{workflow} {name}: no actions/cache of {path}"
        index, cache_key = caches[path]
        assert cache_key == key, f"{workflow} {name}: cache of {path}"
        assert index < first_use, f"{workflow} {name}: {path} cached too late"


@pytest.mark.parametrize(("workflow", "name", "job"), jobs(), ids=JOB_IDS)
def test_bot_commits_and_pull_requests_use_the_app_token(
    workflow: str, name: str, job: dict[str, Any]
) -> None:
    # A push or pull request made with GITHUB_TOKEN starts no workflow: the staging
    # deploy and the prod pull request's checks would never run.
    uses = {step.get("uses", "").split("@")[0]: step for step in job["steps"]}
    pushes = "stefanzweifel/git-auto-commit-action" in uses
    opens_pr = "peter-evans/create-pull-request" in uses
    if not (pushes or opens_pr):
        return
    app = uses.get("actions/create-github-app-token")
    assert app, f"{workflow} {name}: no GitHub App token"
    assert app["id"] == "app-token"
    assert app["with"] == {
        "app-id": "${{ secrets.RELEASE_APP_ID }}",
        "private-key": "${{ secrets.RELEASE_APP_PRIVATE_KEY }}",
        # scoped down to what a pull request needs, whatever else the App may do
        "permission-contents": "write",
        "permission-pull-requests": "write",
    }
    if pushes:  # git-auto-commit-action pushes with checkout's credentials
        checkout = uses["actions/checkout"].get("with", {})
        assert checkout.get("token") == APP_TOKEN, f"{workflow} {name}: checkout"
    if opens_pr:
        create_pr = uses["peter-evans/create-pull-request"].get("with", {})
        assert create_pr.get("token") == APP_TOKEN, f"{workflow} {name}: pull request"


TRACKING_TARGETS = {
    "run",
    "retrain",
    "serving-image",
    "pr-report",
    "promote-staging",
    "promote-prod",
    "promote-sync",
}


@pytest.mark.parametrize(("workflow", "name", "job"), jobs(), ids=JOB_IDS)
def test_steps_that_track_reach_the_tracking_server(
    workflow: str, name: str, job: dict[str, Any]
) -> None:
    doc = load(REPO / ".github" / "workflows" / workflow)
    for i, target in make_targets_of(job):
        if target not in TRACKING_TARGETS:
            continue
        env = {
            **doc.get("env", {}),
            **job.get("env", {}),
            **job["steps"][i].get("env", {}),
        }
        for var in ("MLFLOW_TRACKING_URI", "MLFLOW_TRACKING_TOKEN"):
            assert env.get(var) == f"${{{{ secrets.{var} }}}}", (
                f"{workflow} {name}: make {target} has no {var}"
            )


def test_the_readme_names_every_secret_the_workflows_use() -> None:
    readme = (REPO / "README.md").read_text()
    used = {
        name
        for path in WORKFLOWS
        for name in re.findall(r"secrets\.([A-Z_]+)", path.read_text())
    } - {"GITHUB_TOKEN"}
    assert used
    assert not [name for name in sorted(used) if f"`{name}`" not in readme]


USES = re.compile(r"^\s*(?:-\s+)?uses:\s*(?P<ref>\S+)(?P<comment>.*)$")
PINNED = re.compile(r"^[\w.-]+/[\w./-]+@[0-9a-f]{40}$")
VERSION_COMMENT = re.compile(r"^\s+# v\d+\.\d+\.\d+$")


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_every_action_is_pinned_by_commit_sha_with_its_version(
    workflow: Path,
) -> None:
    # A tag can be moved to other code; a commit SHA cannot. The comment says which
    # release the SHA is, for reviews and updates.
    lines = workflow.read_text().splitlines()
    uses = [(n, USES.match(line)) for n, line in enumerate(lines, 1)]
    uses = [(n, m) for n, m in uses if m]
    assert uses
    for n, match in uses:
        assert PINNED.match(match["ref"]), f"{workflow.name}:{n}: {match['ref']}"
        assert VERSION_COMMENT.match(match["comment"]), (
            f"{workflow.name}:{n}: expected '# vX.Y.Z' after the SHA, "
            f"got {match['comment']!r}"
        )


def test_the_same_action_is_the_same_release_everywhere() -> None:
    pins: dict[str, set[str]] = {}
    for path in WORKFLOWS:
        for line in path.read_text().splitlines():
            if match := USES.match(line):
                action = match["ref"].split("@")[0]
                pins.setdefault(action, set()).add(match["ref"] + match["comment"])
    assert {a: p for a, p in pins.items() if len(p) > 1} == {}


#: The write scopes GITHUB_TOKEN may have, and the step that needs each.
WRITE_SCOPES = {
    "packages": "docker/login-action",  # pushing images to ghcr.io
    "pull-requests": "actions/github-script",  # the metric report comment
}


@pytest.mark.parametrize("workflow", WORKFLOWS, ids=lambda p: p.name)
def test_the_workflow_token_has_no_scope_by_default(workflow: Path) -> None:
    assert load(workflow).get("permissions") == {}, workflow.name


@pytest.mark.parametrize(("workflow", "name", "job"), jobs(), ids=JOB_IDS)
def test_each_job_asks_for_the_least_it_needs(
    workflow: str, name: str, job: dict[str, Any]
) -> None:
    # GIVEN the job's own permissions (the workflow grants none)
    permissions = job.get("permissions")
    assert isinstance(permissions, dict), f"{workflow} {name}: no permissions map"
    # THEN it reads the repository, and writes only where one of its steps must
    assert permissions.get("contents") == "read", f"{workflow} {name}"
    actions = {step.get("uses", "").split("@")[0] for step in job["steps"]}
    for scope, level in permissions.items():
        assert level in {"read", "write", "none"}, f"{workflow} {name}: {scope}"
        if level == "write":
            assert WRITE_SCOPES.get(scope) in actions, (
                f"{workflow} {name}: {scope}: write, but no step needs it"
            )


@pytest.mark.parametrize(("workflow", "name", "job"), jobs(), ids=JOB_IDS)
def test_checkouts_leave_no_credentials_for_later_steps(
    workflow: str, name: str, job: dict[str, Any]
) -> None:
    # make steps run the repository's code; a persisted token would be theirs too
    # (create-pull-request takes its token as an input)
    for step in job["steps"]:
        if step.get("uses", "").startswith("actions/checkout@"):
            assert step.get("with", {}).get("persist-credentials") is False, (
                f"{workflow} {name}"
            )
