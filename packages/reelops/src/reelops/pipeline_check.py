"""``python -m reelops.pipeline_check``: validate ``pipelines/*.yml`` (pre-commit hook).

Exits 0 and lists every pipeline with its node count, or exits 1 with the one-line
error of the first problem (file, node, what is wrong).
"""

from __future__ import annotations

import sys

import click

from reelops.config import catalog_names, project_root
from reelops.errors import ReelopsError
from reelops.pipeline_spec import build_pipelines, load_pipeline_files

__all__ = ["main"]


@click.command()
@click.option("--pipelines-dir", default="pipelines", show_default=True)
@click.option("--conf-source", default="conf", show_default=True)
def main(pipelines_dir: str, conf_source: str) -> None:
    """Validate the declarative pipeline files against the code and the catalog."""
    root = project_root()
    try:
        files = load_pipeline_files(root / pipelines_dir)
        pipelines = build_pipelines(files, catalog_names(root / conf_source))
    except ReelopsError as exc:
        raise click.ClickException(str(exc)) from exc
    for name, pipe in sorted(pipelines.items()):
        click.echo(f"{name}: {len(pipe.nodes)} nodes")


if __name__ == "__main__":
    sys.exit(main())
