"""``python -m reelops.summary``: what the last ``kedro run`` did, in a few lines."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click
import mlflow
from mlflow.utils.mlflow_tags import MLFLOW_PARENT_RUN_ID

__all__ = ["candidate_table", "main"]

#: The headline metrics of each candidate, as the comparison names them.
HEADLINE = ("ndcg@10", "recall@10", "rmse", "mae", "fit_seconds")


def _cell(metric: str, value: Any) -> str:
    if not isinstance(value, float | int):
        return f"{'-':>9}"
    return f"{value:>9.2f}" if metric.endswith("_seconds") else f"{value:>9.4f}"


def candidate_table(comparison: dict[str, Any]) -> list[str]:
    """Every candidate's headline metrics, best first by the primary metric.

    Ties are broken on RMSE, as champion selection does; the champion is marked
    ``*`` and a metric a candidate lacks is ``-``.
    """
    from recsys import direction_of

    primary = comparison["primary_metric"]
    sign = 1.0 if direction_of(primary) == "lower" else -1.0
    nan = float("nan")
    ranked = sorted(
        comparison["candidates"].items(),
        key=lambda item: (sign * item[1].get(primary, nan), item[1].get("rmse", nan)),
    )
    width = max(len(name) for name, _ in ranked)
    header = "  ".join(f"{m.replace('_seconds', ' s'):>9}" for m in HEADLINE)
    lines = [f"    {'':{width}}  {header}"]
    for name, metrics in ranked:
        mark = "*" if name == comparison["champion"] else " "
        cells = "  ".join(_cell(m, metrics.get(m)) for m in HEADLINE)
        lines.append(f"  {mark} {name:{width}}  {cells}")
    return lines


def _latest_run(experiment: str) -> mlflow.entities.Run | None:
    """The newest pipeline run (candidates' child runs are not pipeline runs)."""
    runs = mlflow.search_runs(
        experiment_names=[experiment],
        filter_string=f"tags.`{MLFLOW_PARENT_RUN_ID}` IS NULL",
        order_by=["attributes.start_time DESC"],
        max_results=1,
        output_format="list",
    )
    return runs[0] if runs else None


@click.command()
@click.option("--reports", default="data/08_reporting", show_default=True)
def main(reports: str) -> None:
    """Print the pipelines run, the MLflow run and where the reports are."""
    uri = os.environ.get("MLFLOW_TRACKING_URI", "sqlite:///mlflow.db")
    mlflow.set_tracking_uri(uri)
    experiment = os.environ.get("MLFLOW_EXPERIMENT_NAME", "reelops")
    run = _latest_run(experiment)
    if run is None:
        raise click.ClickException(f"no MLflow run found in experiment '{experiment}'")
    tags = run.data.tags
    click.echo("")
    click.echo("reelops run summary")
    click.echo(
        f"  pipelines : {tags.get('kedro.pipelines', '?')} "
        f"(env {tags.get('kedro.env', '?')}, status {run.info.status})"
    )
    click.echo(
        f"  git       : {tags.get('git.sha', '?')[:12]}"
        f"{' (dirty)' if tags.get('git.dirty') == 'true' else ''}"
    )
    click.echo(f"  data      : sha256 {tags.get('data.sha256', '?')[:12]}")
    report = Path(reports) / "ingest_report.json"
    if report.exists():
        sources = json.loads(report.read_text())["sources"]
        counts = ", ".join(
            f"{k} {v['valid_rows']:,} valid / {v['quarantined_rows']:,} quarantined"
            for k, v in sources.items()
        )
        click.echo(f"  ingest    : {counts}")
    eda = Path(reports) / "eda" / "eda_summary.json"
    if eda.exists():
        s = json.loads(eda.read_text())
        click.echo(
            f"  eda       : {s['n_ratings']:,} ratings, {s['n_users']:,} users, "
            f"{s['n_movies_rated']:,} rated movies, sparsity {s['sparsity']:.2%}"
        )
    comparison = Path(reports) / "model_comparison.json"
    if comparison.exists():
        c = json.loads(comparison.read_text())
        best = c["candidates"][c["champion"]]
        registered = (
            f"registered as @challenger v{tags.get('challenger.version', '?')}"
            if tags.get("challenger.registered") == "true"
            else f"not registered: {tags.get('challenger.rejected_because', '?')}"
        )
        click.echo(
            f"  model     : {c['champion']} ({c['primary_metric']} "
            f"{best[c['primary_metric']]:.4f}, rmse {best['rmse']:.4f}), {registered}"
        )
        click.echo(f"  candidates: test split, ranked by {c['primary_metric']}")
        for line in candidate_table(c):
            click.echo(line)
    if bento := tags.get("serving.bento_tag"):
        click.echo(f"  serving   : bento {bento} -> make serve (http://127.0.0.1:3000)")
    click.echo(f"  mlflow    : run {run.info.run_id} in '{experiment}' ({uri})")
    click.echo("              open it with: make mlflow-ui  ->  http://127.0.0.1:5000")
    click.echo(
        f"  reports   : {reports}/ "
        "(ingest_report.json, eda/, model_comparison.json/.png, ...)"
    )


if __name__ == "__main__":
    main()
