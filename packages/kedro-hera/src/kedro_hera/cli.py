"""``kedro argo`` commands (entry point ``kedro.project_commands``).

Every failure raises ``click.ClickException`` with a one-line message, so the exit
code is non-zero.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from kedro_hera.errors import KedroHeraError

__all__ = ["argo", "commands"]

F = TypeVar("F", bound=Callable[..., Any])
DEFAULT_OUTPUT = "argo"


def _fail_cleanly(func: F) -> F:
    @functools.wraps(func)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            return func(*args, **kwargs)
        except KedroHeraError as exc:
            raise click.ClickException(str(exc)) from exc

    return wrapper  # type: ignore[return-value]


def _project_path(ctx: click.Context) -> Path:
    path = getattr(ctx.find_root().obj, "project_path", None)
    return Path(path) if path is not None else Path.cwd()


def _output_dir(ctx: click.Context, output_dir: str) -> Path:
    path = Path(output_dir)
    return path if path.is_absolute() else _project_path(ctx) / path


@click.group(name="kedro-hera")
def commands() -> None:
    """Commands of the kedro-hera plugin."""


@commands.group(name="argo")
def argo() -> None:
    """Compile Kedro pipelines into Argo Workflows, check, lint and submit them."""


_env_option = click.option(
    "--env",
    "-e",
    "envs",
    multiple=True,
    help="Kedro environment (repeatable). Default: every env with an argo.yml.",
)
_output_option = click.option(
    "--output-dir",
    default=DEFAULT_OUTPUT,
    show_default=True,
    help="Directory of the generated manifests, relative to the project.",
)


@argo.command(name="compile")
@_env_option
@click.option("--all-envs", is_flag=True, help="Compile every env with an argo.yml.")
@click.option(
    "--pipeline", "-p", "pipelines", multiple=True, help="Pipeline (repeatable)."
)
@_output_option
@click.pass_context
@_fail_cleanly
def compile_command(
    ctx: click.Context,
    envs: Sequence[str],
    all_envs: bool,
    pipelines: Sequence[str],
    output_dir: str,
) -> None:
    """Write argo/<env>/<pipeline>.yaml and argo/<env>/cron-<schedule>.yaml."""
    from kedro_hera.check import generated_files
    from kedro_hera.compile import compile_project
    from kedro_hera.files import write_files

    if all_envs and envs:
        msg = "use either --env or --all-envs, not both"
        raise click.UsageError(msg)
    started = time.perf_counter()
    result = compile_project(
        _project_path(ctx), envs=list(envs) or None, pipelines=list(pipelines) or None
    )
    out = _output_dir(ctx, output_dir)
    files = {m.path: m.text for m in result.manifests}
    # Every env compiled: generated files of removed envs are stale too.
    scope = result.envs if envs else None
    stale = (
        [p for p in generated_files(out, scope) if p not in files]
        if result.complete
        else []
    )
    changed = write_files(out, files, remove=stale)
    elapsed = time.perf_counter() - started
    click.echo(f"{'env':<12} {'pipeline':<28} {'nodes':>5} {'tasks':>5}  file")
    for report in result.reports:
        click.echo(
            f"{report.env:<12} {report.pipeline:<28} {report.nodes:>5} "
            f"{report.tasks:>5}  {output_dir}/{report.path}"
        )
    crons = sum(1 for m in result.manifests if m.kind == "CronWorkflow")
    click.echo(
        f"{len(result.reports)} WorkflowTemplate(s) and {crons} CronWorkflow(s) for "
        f"env(s) {', '.join(result.envs)} in {elapsed:.2f}s; {len(changed)} file(s) "
        "changed."
    )


@argo.command(name="check")
@_env_option
@_output_option
@click.option("--diff/--no-diff", default=True, help="Print a diff of stale files.")
@click.pass_context
@_fail_cleanly
def check_command(
    ctx: click.Context, envs: Sequence[str], output_dir: str, diff: bool
) -> None:
    """Fail when argo/ differs from a fresh compile (stale, missing or extra files)."""
    from kedro_hera.check import check_project

    out = _output_dir(ctx, output_dir)
    drift = check_project(_project_path(ctx), out, envs=list(envs) or None)
    if not drift:
        click.echo(f"{output_dir}/ is up to date.")
        return
    if diff:
        for path in drift.stale:
            click.echo(drift.diffs[path], err=True)
    parts = [
        f"{label}: {', '.join(f'{output_dir}/{p}' for p in paths)}"
        for label, paths in (
            ("stale", drift.stale),
            ("missing", drift.missing),
            ("extra", drift.extra),
        )
        if paths
    ]
    parts += [image.describe() for image in drift.images]
    msg = f"{output_dir}/ is out of date ({'; '.join(parts)}); run `kedro argo compile`"
    raise click.ClickException(msg)


@argo.command(name="image")
@click.option(
    "--env",
    "-e",
    "env",
    default=None,
    help="Kedro environment. Default: every env with an argo.yml, which must "
    "all name the same image.",
)
@click.option(
    "--files",
    is_flag=True,
    help="List the files whose content makes the tag (image.tag_from) instead.",
)
@click.pass_context
@_fail_cleanly
def image_command(ctx: click.Context, env: str | None, files: bool) -> None:
    """Print the image reference (repository:tag) the manifests of an env name."""
    from kedro_hera._build import BuildInfo, image_reference
    from kedro_hera._project import git_sha, load_env, load_project
    from kedro_hera.compile import project_envs
    from kedro_hera.errors import ConfigError
    from kedro_hera.image import cached_content_tag, tag_source_files

    project = load_project(_project_path(ctx))
    hasher = cached_content_tag()
    snapshots = [
        load_env(project, name, hasher=hasher)
        for name in project_envs(project, [env] if env else None)
    ]
    if files:
        paths = sorted({p for s in snapshots for p in s.image_tag.paths})
        for name in tag_source_files(project.path, paths) if paths else []:
            click.echo(name)
        return
    sha = (
        git_sha(project.path)
        if any(s.image_tag.tag is None for s in snapshots)
        else "unknown"
    )
    references = {
        s.env: image_reference(s.config, BuildInfo(image_tag=s.image_tag.tag or sha))
        for s in snapshots
    }
    if len(set(references.values())) > 1:
        found = ", ".join(f"{name}: {ref}" for name, ref in references.items())
        msg = f"envs name different images ({found}); pass --env"
        raise ConfigError(msg)
    click.echo(next(iter(references.values())))


@argo.command(name="lint")
@click.option(
    "--schema",
    "schema",
    envvar="KEDRO_HERA_ARGO_SCHEMA",
    default=None,
    type=click.Path(dir_okay=False, path_type=Path),
    help="Argo's JSON schema (api/jsonschema/schema.json); or $KEDRO_HERA_ARGO_SCHEMA. "
    "Without it only the Hera round trip runs.",
)
@_output_option
@click.pass_context
@_fail_cleanly
def lint_command(ctx: click.Context, schema: Path | None, output_dir: str) -> None:
    """Validate every manifest against Argo's JSON schema and Hera's models."""
    from kedro_hera.lint import lint_directory

    out = _output_dir(ctx, output_dir)
    problems = lint_directory(out, schema)
    for path, lines in problems.items():
        for line in lines:
            click.echo(f"{output_dir}/{path}: {line}", err=True)
    if problems:
        count = sum(len(lines) for lines in problems.values())
        msg = f"{count} problem(s) in {len(problems)} manifest(s) of {output_dir}/"
        raise click.ClickException(msg)
    if schema is None:
        click.echo(
            f"{output_dir}/: every manifest survives the Hera round trip; schema "
            "validation skipped (pass --schema or set $KEDRO_HERA_ARGO_SCHEMA)."
        )
    else:
        click.echo(f"{output_dir}/: every manifest is valid.")


@argo.command(name="submit")
@click.option("--env", "-e", "env", required=True, help="Kedro environment.")
@click.option("--pipeline", "-p", required=True, help="Pipeline name.")
@click.option(
    "--param",
    "params",
    multiple=True,
    help="Override: dotted Kedro key (or Argo name) = value; JSON for lists.",
)
@click.option("--wait", is_flag=True, help="Wait for the workflow; fail if it fails.")
@click.option("--poll-interval", default=10.0, show_default=True, type=float)
@click.option("--timeout", default=None, type=float, help="Seconds to wait at most.")
@click.option("--server", default=None, help="Argo server; default $ARGO_SERVER.")
@click.option("--namespace", default=None, help="Namespace; default $ARGO_NAMESPACE.")
@_output_option
@click.pass_context
@_fail_cleanly
def submit_command(
    ctx: click.Context,
    *,
    env: str,
    pipeline: str,
    params: Sequence[str],
    wait: bool,
    poll_interval: float,
    timeout: float | None,
    server: str | None,
    namespace: str | None,
    output_dir: str,
) -> None:
    """Submit a Workflow running argo/<env>/<pipeline>.yaml with overridden params."""
    from kedro_hera._project import load_env, load_project
    from kedro_hera.submit import (
        build_submission,
        read_template,
        server_settings,
        submit,
        wait_for_workflow,
    )

    project = load_project(_project_path(ctx))
    config = load_env(project, env).config
    template = read_template(_output_dir(ctx, output_dir) / env / f"{pipeline}.yaml")
    settings = server_settings(
        config.server,
        default_namespace=template.namespace or config.namespace,
        host=server,
        namespace=namespace,
    )
    workflow = build_submission(template, params, namespace=settings.namespace)
    name = submit(workflow, settings)
    click.echo(
        f"Submitted workflow {name} (template {template.name}) to {settings.host}"
    )
    if wait:
        phase = wait_for_workflow(
            name, settings, poll_interval=poll_interval, timeout=timeout
        )
        click.echo(f"Workflow {name} {phase}.")


@argo.command(name="init-run")
@click.option("--experiment", required=True, help="MLflow experiment name.")
@click.option("--workflow-name", required=True, help="Argo workflow name.")
@click.option(
    "--output",
    required=True,
    type=click.Path(dir_okay=False, path_type=Path),
    help="File receiving the run id (an Argo output parameter).",
)
@click.option("--tag", "tags", multiple=True, help="Run tag key=value (repeatable).")
@_fail_cleanly
def init_run_command(
    experiment: str, workflow_name: str, output: Path, tags: Sequence[str]
) -> None:
    """Create (or find again) the MLflow run shared by every task of a workflow."""
    from kedro_hera.files import write_files
    from kedro_hera.mlflow_run import start_workflow_run

    parsed = {}
    for tag in tags:
        key, sep, value = tag.partition("=")
        if not sep or not key:
            msg = f"--tag '{tag}' must look like key=value"
            raise click.UsageError(msg)
        parsed[key] = value
    run_id = start_workflow_run(
        experiment=experiment, workflow_name=workflow_name, tags=parsed
    )
    output = output.absolute()
    write_files(output.parent, {output.name: run_id})
    click.echo(f"MLflow run {run_id} for workflow {workflow_name}")


@argo.command(name="end-run")
@click.option("--experiment", required=True, help="MLflow experiment name.")
@click.option("--workflow-name", required=True, help="Argo workflow name.")
@click.option("--status", required=True, help="Argo {{workflow.status}}.")
@_fail_cleanly
def end_run_command(experiment: str, workflow_name: str, status: str) -> None:
    """Close the workflow's MLflow run: FINISHED on success, FAILED otherwise."""
    from kedro_hera.mlflow_run import end_workflow_run

    closed = end_workflow_run(
        experiment=experiment, workflow_name=workflow_name, status=status
    )
    if not closed:
        click.echo(
            f"No MLflow run found for workflow {workflow_name}; nothing to close."
        )
    for run_id in closed:
        click.echo(f"MLflow run {run_id} closed: workflow {status}")
