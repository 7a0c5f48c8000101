"""``kedro promote``: move a model to dev, staging or prod through git.

``--to dev|staging|prod`` gathers the evidence (registry, run tags, both models'
evaluation estimators scored on the same held-out pairs, the drift decision, the
working tree), checks the gates and, when all pass, writes the environment file and
its overlay's image (the content of the promotion pull request). It never moves an
MLflow alias: ``--sync``, run on main after the change is merged, makes the aliases
match the files (git wins), so an alias cannot run ahead of what is deployed.
When the only failing gate is the metric one, there is no better model: a green,
explained no-op (exit 0); any other failing gate refuses (exit 1). Either way
``data/08_reporting/promotion.json`` says what happened, for the workflow that
opens the pull request. ``--dry-run`` prints the diff and changes nothing.
``--rollback ENV`` restores the environment's previous entry from git history.

This module is a ``kedro.project_commands`` entry point, imported by every ``kedro``
command, so MLflow (seconds to import) is imported only when ``promote`` runs.
"""

from __future__ import annotations

import difflib
import json
import logging
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click
from kedro.framework.session import KedroSession

from reelops._pydantic import as_config, parse_config
from reelops.errors import ConfigError
from reelops.promotion._git import commit_paths, file_history, working_tree_status
from reelops.promotion.environment import (
    ENVIRONMENT_ALIASES,
    DeployedModel,
    EnvironmentFile,
    dump_environment,
    load_environment,
    parse_environment,
)
from reelops.promotion.gates import (
    METRIC_GATE,
    PUSHED_IMAGE_TAG,
    Evidence,
    PromotionConfig,
    check_gates,
)
from reelops.promotion.overlay import (
    UNPROMOTED_TAG,
    overlay_repository,
    set_overlay_image,
)

if TYPE_CHECKING:
    import mlflow

__all__ = ["commands"]

logger = logging.getLogger(__name__)


@dataclass
class _Context:
    project: Path
    config: PromotionConfig
    client: mlflow.MlflowClient
    catalog: Any
    #: ``params:evaluation``: the protocol training scored the candidates with.
    evaluation: Any

    def env_path(self, env: str) -> Path:
        return self.project / self.config.environments_dir / f"{env}.yaml"

    def overlay_path(self, env: str) -> Path:
        return self.project / self.config.overlays_dir / env / "kustomization.yaml"


def _open(project: Path, kedro_env: str | None) -> _Context:
    import mlflow

    from reelops.cli import check_run_parameters

    # Promotion scores with training's parameters (params:evaluation): a bad one
    # is the same one-line error `kedro run --pipeline training` gives.
    check_run_parameters(["training"], kedro_env, None)
    session = KedroSession.create(project_path=project, env=kedro_env)
    context = session.load_context()  # kedro-mlflow sets the tracking URI here
    try:
        raw = context.config_loader["promotion"]
    except KeyError as exc:  # pragma: no cover - the pattern is registered
        raise click.ClickException(
            "no promotion config (conf/*/promotion.yml)"
        ) from exc
    try:
        config = parse_config(PromotionConfig, raw, "promotion.yml")
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
    return _Context(
        project,
        config,
        mlflow.MlflowClient(),
        context.catalog,
        context.params.get("evaluation", {}),
    )


def _estimator(ctx: _Context, version: str) -> Any:
    """The version's evaluation estimator: fitted without the held-out pairs."""
    from reelops.datasets.registered_model import load_estimator

    return load_estimator(f"models:/{ctx.config.model_name}/{version}", "evaluation")


def _evaluate(ctx: _Context, version: str) -> dict[str, float]:
    """Metrics of a registered version on this project's evaluation data.

    Scored with training's protocol (``params:evaluation``: the cut-off and the
    seeded sample of users ranked), so a promotion compares what training measured.
    """
    # Imported here: it brings pandas, which no other `kedro` command needs to start.
    from reelops.evaluation import EvaluationConfig, evaluate_model

    protocol = as_config(EvaluationConfig, ctx.evaluation, "parameters 'evaluation'")

    train = ctx.catalog.load("train_ratings")
    test = ctx.catalog.load("test_ratings")
    report = {"estimator": f"v{version}", "fit_seconds": 0.0}
    metrics = evaluate_model(
        _estimator(ctx, version),
        report,
        train,
        test,
        protocol,
    )
    return {
        k: float(v)
        for k, v in metrics.items()
        if isinstance(v, int | float) and not k.endswith("_seconds")
    }


def _source_version(
    ctx: _Context, target: str, explicit: str | None
) -> tuple[str, str]:
    """(version, where it came from) of the model ``target`` would receive."""
    if explicit:
        return explicit, f"version:{explicit}"
    source = ctx.config.sources.get(target)
    if source is None:
        raise click.ClickException(
            f"no promotion source for '{target}' in promotion.yml sources "
            f"(expected one of: {', '.join(sorted(ctx.config.sources))})"
        )
    kind, _, name = source.partition(":")
    if kind == "alias":
        mv = ctx.client.get_model_version_by_alias(ctx.config.model_name, name)
        return str(mv.version), source
    env = load_environment(ctx.env_path(name))
    if env.model is None:
        raise click.ClickException(f"{name} serves no model yet: nothing to promote")
    return env.model.version, source


def _drift_decision(ctx: _Context) -> dict[str, Any] | None:
    path = ctx.project / ctx.config.drift_decision
    return json.loads(path.read_text()) if path.exists() else None


def _gather(ctx: _Context, target: str, version: str) -> tuple[Evidence, Any]:
    mv = ctx.client.get_model_version(ctx.config.model_name, version)
    run_id = str(mv.run_id or "")
    tags = {**ctx.client.get_run(run_id).data.tags, "mlflow.run_id": run_id}
    current = load_environment(ctx.env_path(target)).model
    status = working_tree_status(ctx.project)
    evidence = Evidence(
        version=str(mv.version),
        run_tags=tags,
        metrics=_evaluate(ctx, str(mv.version)),
        current_version=current.version if current else None,
        current_metrics=_evaluate(ctx, current.version) if current else None,
        drift_decision=_drift_decision(ctx),
        tree_clean=not status,
        tree_status=status.replace("\n", ", "),
    )
    return evidence, mv


def _entry(ctx: _Context, mv: Any, ev: Evidence, source: str) -> DeployedModel:
    bento = ev.run_tags.get("serving.bento_tag")
    image = ctx.config.pinned_image(bento, ev.run_tags) if bento else None
    if image and "@" not in image:
        click.echo(
            f"image {image} is named by tag: no pushed digest recorded on run "
            f"{mv.run_id} ({PUSHED_IMAGE_TAG}; build it with `make serving-image "
            "IMAGE_FLAGS=--push`)"
        )
    return DeployedModel(
        name=ctx.config.model_name,
        version=str(mv.version),
        run_id=mv.run_id,
        candidate=mv.tags.get("candidate", "unknown"),
        git_sha=ev.run_tags["git.sha"],
        data_sha256=ev.run_tags["data.sha256"],
        bento_tag=bento,
        image=image,
        metrics={k: round(v, 6) for k, v in sorted(ev.metrics.items())},
        promoted_at=datetime.now(UTC).replace(microsecond=0),
        promoted_from=source,
    )


def _diff(path: Path, old: str, new: str) -> str:
    lines = difflib.unified_diff(
        old.splitlines(keepends=True),
        new.splitlines(keepends=True),
        fromfile=f"a/{path.name}",
        tofile=f"b/{path.name}",
    )
    return "".join(lines)


def _write(ctx: _Context, env: EnvironmentFile, *, dry_run: bool) -> str:
    """Write the environment file and its overlay's serving image; print the diff."""
    path = ctx.env_path(env.environment)
    old = path.read_text(encoding="utf-8")
    new = dump_environment(env)
    changes = [(path, old, new)]
    overlay = ctx.overlay_path(env.environment)
    if overlay.exists():
        text = overlay.read_text(encoding="utf-8")
        repo = overlay_repository(text)
        image = env.model.image if env.model and env.model.image else None
        changes.append(
            (
                overlay,
                text,
                set_overlay_image(text, image or f"{repo}:{UNPROMOTED_TAG}"),
            )
        )
    for target, before, after in changes:
        click.echo(
            _diff(target, before, after) or f"{target.name}: no change\n", nl=False
        )
        if not dry_run:
            target.write_text(after, encoding="utf-8")
    return new


def _changed_paths(ctx: _Context, env: str) -> list[str]:
    paths = [ctx.env_path(env), ctx.overlay_path(env)]
    return [p.relative_to(ctx.project).as_posix() for p in paths if p.exists()]


def _record(ctx: _Context, outcome: dict[str, Any]) -> None:
    """``data/08_reporting/promotion.json``: what the last promotion did, and why."""
    path = ctx.project / "data" / "08_reporting" / "promotion.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(outcome, indent=2, sort_keys=True) + "\n")


def _no_promotion_summary(ctx: _Context, reason: str, gates: list[str]) -> None:
    """``promotion.md`` when nothing is promoted (no pull request uses it)."""
    path = ctx.project / "data" / "08_reporting" / "promotion.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    body = [
        f"Nothing promoted: {reason}.",
        "",
        "Gates:",
        "",
        *[f"- {g}" for g in gates],
    ]
    path.write_text("\n".join([*body, ""]), encoding="utf-8")


def _summary(  # noqa: PLR0917
    ctx: _Context, target: str, version: str, source: str, gates: list[str], text: str
) -> None:
    """``data/08_reporting/promotion.md``: the body of the promotion pull request."""
    path = ctx.project / "data" / "08_reporting" / "promotion.md"
    path.parent.mkdir(parents=True, exist_ok=True)
    alias = ENVIRONMENT_ALIASES[target]
    body = [
        f"Promote **{ctx.config.model_name} v{version}** to **{target}** "
        f"(from `{source}`).",
        "",
        "Gates:",
        "",
        *[f"- {line}" for line in gates],
        "",
        f"`deploy/environments/{target}.yaml` after the merge:",
        "",
        "```yaml",
        text.rstrip(),
        "```",
        "",
        f"Once merged, the post-merge workflow moves MLflow alias @{alias} to "
        f"v{version} (`kedro promote --sync`).",
        "",
    ]
    path.write_text("\n".join(body), encoding="utf-8")


def _move_alias(ctx: _Context, alias: str, version: str, *, dry_run: bool) -> None:
    if dry_run:
        click.echo(f"would set alias @{alias} -> v{version}")
        return
    ctx.client.set_registered_model_alias(ctx.config.model_name, alias, version)
    click.echo(f"alias @{alias} -> v{version}")


def _promote(
    ctx: _Context, target: str, version: str | None, *, dry_run: bool, commit: bool
) -> None:
    version, source = _source_version(ctx, target, version)
    ev, mv = _gather(ctx, target, version)
    results = check_gates(ev, ctx.config)
    lines = [f"{'PASS' if r.passed else 'FAIL'} {r.name}: {r.detail}" for r in results]
    click.echo("\n".join(lines))
    failed = [r for r in results if not r.passed]
    outcome: dict[str, Any] = {
        "target": target,
        "version": version,
        "source": source,
        "promoted": False,
        "dry_run": dry_run,
        "gates": {r.name: {"passed": r.passed, "detail": r.detail} for r in results},
    }
    if [r.name for r in failed] == [METRIC_GATE]:
        reason = f"no better model for {target}: {failed[0].detail}"
        _record(ctx, {**outcome, "reason": reason})
        _no_promotion_summary(ctx, reason, lines)
        click.echo(f"nothing to promote: {reason}")
        return
    if failed:
        reason = (
            f"promotion of v{version} to {target} refused: {len(failed)} gate(s) failed"
        )
        _record(ctx, {**outcome, "reason": reason})
        raise click.ClickException(reason)
    env = EnvironmentFile(environment=target, model=_entry(ctx, mv, ev, source))
    new = _write(ctx, env, dry_run=dry_run)
    _summary(ctx, target, version, source, lines, new)
    _record(
        ctx,
        {
            **outcome,
            "promoted": not dry_run,
            "paths": _changed_paths(ctx, target),
            "reason": f"v{version} passes every gate for {target}",
        },
    )
    click.echo(
        f"alias @{env.alias} -> v{version} once this change is on main "
        "(kedro promote --sync)"
    )
    if commit and not dry_run:
        sha = commit_paths(
            ctx.project,
            _changed_paths(ctx, target),
            f"promote({target}): {mv.name} v{version} ({source})",
        )
        click.echo(f"committed {sha[:12]}")


def _rollback(ctx: _Context, target: str, *, dry_run: bool, commit: bool) -> None:
    path = ctx.env_path(target)
    rel = path.relative_to(ctx.project).as_posix()
    current = load_environment(path)
    for sha, text in file_history(ctx.project, rel):
        entry = parse_environment(text, f"{rel}@{sha[:12]}")
        if entry.model != current.model:
            break
    else:
        raise click.ClickException(f"{rel} has no earlier entry to roll back to")
    _write(ctx, entry, dry_run=dry_run)
    if entry.model is not None:
        click.echo(
            f"alias @{entry.alias} -> v{entry.model.version} once this change is on "
            "main (kedro promote --sync)"
        )
    else:
        click.echo(f"{target} now serves no model; alias @{entry.alias} left as is")
    if commit and not dry_run:
        was = current.model.version if current.model else "none"
        now = entry.model.version if entry.model else "none"
        commit_paths(
            ctx.project,
            _changed_paths(ctx, target),
            f"rollback({target}): v{was} -> v{now} ({sha[:12]})",
        )


def _sync(ctx: _Context, *, dry_run: bool) -> None:
    from mlflow.exceptions import MlflowException

    drift = 0
    for env_name in ENVIRONMENT_ALIASES:
        path = ctx.env_path(env_name)
        if not path.exists():
            continue
        env = load_environment(path)
        if env.model is None:
            continue
        try:
            actual = ctx.client.get_model_version_by_alias(
                ctx.config.model_name, env.alias
            ).version
        except MlflowException:
            actual = None
        if str(actual) == env.model.version:
            click.echo(f"{env_name}: @{env.alias} -> v{actual} matches {path.name}")
            continue
        drift += 1
        click.echo(
            f"{env_name}: drift: @{env.alias} -> v{actual}, {path.name} says "
            f"v{env.model.version}"
        )
        _move_alias(ctx, env.alias, env.model.version, dry_run=dry_run)
    note = " (dry run: unchanged)" if dry_run and drift else ""
    click.echo(f"{drift} alias(es) drifted{note}")


@click.group(name="reelops")
def commands() -> None:
    """Reelops project commands."""


@commands.command()
@click.option("--to", "target", type=click.Choice(sorted(ENVIRONMENT_ALIASES)))
@click.option("--rollback", type=click.Choice(sorted(ENVIRONMENT_ALIASES)))
@click.option("--sync", is_flag=True, help="Make MLflow aliases match the files.")
@click.option("--version", "version", help="Registry version to promote.")
@click.option("--dry-run", is_flag=True, help="Print the diff; change nothing.")
@click.option("--commit", is_flag=True, help="Commit the environment file change.")
@click.option("--env", "-e", "kedro_env", default=None, help="Kedro config env.")
@click.pass_obj
def promote(  # noqa: PLR0917
    metadata: Any,
    target: str | None,
    rollback: str | None,
    sync: bool,
    version: str | None,
    dry_run: bool,
    commit: bool,
    kedro_env: str | None,
) -> None:
    """Promote a model (--to), roll an environment back (--rollback) or --sync."""
    chosen = [o for o in (target, rollback, sync or None) if o]
    if len(chosen) != 1:
        raise click.ClickException("choose exactly one of --to, --rollback, --sync")
    try:
        ctx = _open(Path(metadata.project_path), kedro_env)
        if target:
            _promote(ctx, target, version, dry_run=dry_run, commit=commit)
        elif rollback:
            _rollback(ctx, rollback, dry_run=dry_run, commit=commit)
        else:
            _sync(ctx, dry_run=dry_run)
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from exc
