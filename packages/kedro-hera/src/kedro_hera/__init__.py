"""kedro-hera: compile Kedro pipelines into Argo Workflows with Hera.

The plugin adds ``kedro argo`` (compile, check, lint, submit, init-run, end-run)
through the ``kedro.project_commands`` entry point.
"""

from __future__ import annotations

from pathlib import Path

__all__ = ["TEMPLATE_CONFIG", "__version__"]

__version__ = "0.1.0"

TEMPLATE_CONFIG = Path(__file__).parent / "templates" / "argo.yml"
"""The commented ``argo.yml`` template shipped with the plugin."""
