"""``python -m reelops.pr_report``: the pull request's metric diff, as markdown.

Compares this run's champion candidate with the registered ``champion`` measured on
the same test split (``champion_metrics.json``, written by the training pipeline),
and falls back to the metrics recorded in ``deploy/environments/prod.yaml`` when no
champion could be evaluated. Written to ``data/08_reporting/pr_report.md``; CI posts
it as a pull-request comment.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click

from reelops.promotion.environment import load_environment

__all__ = ["main", "render_report"]

_EPSILON = 1e-9
#: The report's cut-off of the ranking metrics (``ndcg@10``, ...).
_K = 10


def _cell(metric: str, new: float | None, old: float | None) -> str:
    if new is None:
        return "n/a"
    if old is None:
        return f"{new:.4f}"
    from recsys import is_better

    delta = new - old
    better = is_better(metric, new, old)
    mark = "" if abs(delta) < _EPSILON else (" ✅" if better else " ⚠️")
    return f"{new:.4f} ({delta:+.4f}){mark}"


def render_report(
    comparison: dict[str, Any],
    reference: dict[str, Any] | None,
    reference_label: str,
) -> str:
    """Markdown: the candidate vs the reference, then every candidate of the run."""
    from recsys import metric_names

    champion = comparison["champion"]
    metrics = comparison["candidates"][champion]
    ref = reference or {}
    status = (
        "registered as @challenger" if comparison["registered"] else "NOT registered"
    )
    lines = [
        "## reelops: model report",
        "",
        f"Champion candidate of this run: **{champion}** "
        f"(primary metric `{comparison['primary_metric']}`, {status}).",
        f"Reference: {reference_label}.",
        "",
        "| metric | this PR | reference |",
        "|---|---|---|",
    ]
    for m in metric_names(_K):
        old = ref.get(m)
        lines.append(
            f"| {m} | {_cell(m, metrics.get(m), old)} | "
            f"{'n/a' if old is None else f'{old:.4f}'} |"
        )
    lines += ["", "<details><summary>All candidates</summary>", ""]
    lines += [
        "| candidate | rmse | ndcg@10 | coverage@10 | fit s |",
        "|---|---|---|---|---|",
    ]
    for name, m in comparison["candidates"].items():
        lines.append(
            f"| {name} | {m['rmse']:.4f} | {m['ndcg@10']:.4f} | "
            f"{m['coverage@10']:.4f} | {m['fit_seconds']:.2f} |"
        )
    split = comparison["split"]
    lines += [
        "",
        f"Split: {split['strategy']} (seed {split['seed']}), "
        f"{split['n_train']:,} train / {split['n_test']:,} test ratings.",
        "</details>",
        "",
    ]
    return "\n".join(lines)


@click.command()
@click.option("--comparison", default="data/08_reporting/model_comparison.json")
@click.option("--champion", default="data/07_model_output/champion_metrics.json")
@click.option("--prod", default="deploy/environments/prod.yaml")
@click.option("--out", default="data/08_reporting/pr_report.md")
def main(comparison: str, champion: str, prod: str, out: str) -> None:
    """Write the PR metric report."""
    if not Path(comparison).exists():
        raise click.ClickException(f"{comparison} not found: run `make run` first")
    table = json.loads(Path(comparison).read_text())
    reference: dict[str, Any] | None = None
    label = "no registered champion and no prod model yet"
    champ_path = Path(champion)
    if champ_path.exists() and (data := json.loads(champ_path.read_text())):
        reference, label = data, "registered @champion on the same test split"
    elif Path(prod).exists() and (model := load_environment(Path(prod)).model):
        reference = dict(model.metrics)
        label = f"prod v{model.version} metrics at its promotion (other data)"
    text = render_report(table, reference, label)
    Path(out).parent.mkdir(parents=True, exist_ok=True)
    Path(out).write_text(text, encoding="utf-8")
    click.echo(text)


if __name__ == "__main__":
    main()
