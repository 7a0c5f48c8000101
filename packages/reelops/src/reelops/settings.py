"""Kedro project settings for reelops."""

from __future__ import annotations

from reelops.config import CONFIG_LOADER_ARGS as _CONFIG_LOADER_ARGS
from reelops.hooks import LineageHook

HOOKS = (LineageHook(),)
CONFIG_LOADER_ARGS = _CONFIG_LOADER_ARGS
