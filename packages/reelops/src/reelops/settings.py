"""Kedro project settings for reelops."""

from __future__ import annotations

import warnings

from reelops.config import CONFIG_LOADER_ARGS as _CONFIG_LOADER_ARGS
from reelops.hooks import LineageHook

# Third-party notices that every kedro command would print and no user can act on:
# - Kedro calls OmegaConf's deprecated register_new_resolver itself;
# - the pipeline loader names datasets "<namespace>.<name>" on purpose (that is
#   what Kedro's own namespaces produce).
for _message in (
    r"register_new_resolver\(\) is deprecated",
    r"One or more dataset names contain '\.' characters",
):
    warnings.filterwarnings("ignore", message=_message, category=UserWarning)

HOOKS = (LineageHook(),)
CONFIG_LOADER_ARGS = _CONFIG_LOADER_ARGS
