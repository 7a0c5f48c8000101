"""The ``kedro.init`` entry point: what runs before Kedro loads any plugin.

1. Third-party notices no user can act on are dropped (:mod:`reelops.notices`).
2. kedro-mlflow's CLI commands (``kedro mlflow init|ui|modelify``) are loaded when
   one of them runs, not on every ``kedro`` command. kedro-mlflow 2.0.3 imports
   MLflow at the top of its CLI module, its ``kedro.project_commands`` entry point,
   which Kedro 1.7 imports to build every command line: about 2 s of each start.
   The stand-in is a Kedro ``LazyGroup`` naming the very same command object;
   kedro-mlflow's hooks (tracking during ``kedro run``) are untouched. This wraps
   one private Kedro function (``kedro.framework.cli.utils._safe_load_entry_point``)
   and falls back to Kedro's own loading if that function is not there;
   ``tests/reelops/test_startup_imports.py`` checks both effects. Remove it when
   kedro-mlflow imports lazily itself.
"""

from __future__ import annotations

from typing import Any

from reelops import notices

__all__ = ["LAZY_COMMANDS", "init", "lazy_plugin_commands"]

#: Entry point value -> (group name, {subcommand: "module.attribute"}).
LAZY_COMMANDS: dict[str, tuple[str, dict[str, str]]] = {
    "kedro_mlflow.framework.cli.cli:commands": (
        "Mlflow",
        {"mlflow": "kedro_mlflow.framework.cli.cli.mlflow_commands"},
    ),
}


def lazy_plugin_commands() -> bool:
    """Make Kedro load :data:`LAZY_COMMANDS` plugins lazily; whether it could."""
    from kedro.framework.cli import utils

    load = getattr(utils, "_safe_load_entry_point", None)
    if load is None or getattr(load, "__reelops_lazy__", False):
        return load is not None

    def safe_load_entry_point(entry_point: Any) -> Any:
        lazy = LAZY_COMMANDS.get(getattr(entry_point, "value", ""))
        if lazy is None or getattr(entry_point, "group", "") != (
            "kedro.project_commands"
        ):
            return load(entry_point)
        name, subcommands = lazy
        return utils.LazyGroup(name=name, lazy_subcommands=subcommands)

    safe_load_entry_point.__reelops_lazy__ = True  # type: ignore[attr-defined]
    utils._safe_load_entry_point = safe_load_entry_point
    return True


def init() -> None:
    """Drop third-party notices; load heavy plugin commands lazily."""
    notices.init()
    lazy_plugin_commands()
