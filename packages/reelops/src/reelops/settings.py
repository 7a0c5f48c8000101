"""Kedro project settings for reelops."""

from __future__ import annotations

from reelops.config import CONFIG_LOADER_ARGS as _CONFIG_LOADER_ARGS
from reelops.hooks import LineageHook
from reelops.memory import MemoryTrimHook
from reelops.notices import silence_notices
from reelops.run_log import ProgressHook

silence_notices()

HOOKS = (LineageHook(), ProgressHook(), MemoryTrimHook())
CONFIG_LOADER_ARGS = _CONFIG_LOADER_ARGS
