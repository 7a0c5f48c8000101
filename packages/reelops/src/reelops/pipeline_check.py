"""``python -m reelops.pipeline_check``: validate ``pipelines/*.yml`` (pre-commit hook).

The pipeline files against the code and the catalog, then every node's parameters
against its typed model (:mod:`reelops.params`), in the ``local`` environment (base
plus local overrides) unless ``--env`` says otherwise. Exits 0 and lists every
pipeline with its node count, or exits 1 with the one-line error of the first
problem (file, node or parameter, what is wrong).
"""

from __future__ import annotations

import sys

import click

from reelops.config import catalog_names, make_config_loader, project_root
from reelops.errors import ReelopsError
from reelops.params import check_parameters, parameter_files
from reelops.pipeline_spec import build_pipelines, load_pipeline_files

__all__ = ["main"]


@click.command()
@click.option("--pipelines-dir", default="pipelines", show_default=True)
@click.option("--conf-source", default="conf", show_default=True)
@click.option("--env", default="local", show_default=True)
def main(pipelines_dir: str, conf_source: str, env: str) -> None:
    """Validate the declarative pipeline files against the code and the catalog."""
    root = project_root()
    conf = root / conf_source
    try:
        files = load_pipeline_files(root / pipelines_dir)
        pipelines = build_pipelines(files, catalog_names(conf))
        parameters = make_config_loader(conf, env)["parameters"]
        check_parameters(pipelines, parameters, parameter_files(conf, env))
    except ReelopsError as exc:
        raise click.ClickException(str(exc)) from exc
    for name, pipe in sorted(pipelines.items()):
        click.echo(f"{name}: {len(pipe.nodes)} nodes")


if __name__ == "__main__":
    sys.exit(main())
