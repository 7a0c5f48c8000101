"""Third-party notices that every kedro command would print and no user can act on.

- Kedro calls OmegaConf's deprecated ``register_new_resolver`` itself;
- the pipeline loader names datasets ``<namespace>.<name>`` on purpose (that is what
  Kedro's own namespaces produce);
- kedro-mlflow's ``KedroPipelineModel.predict`` (imported by its CLI plugin) and
  MLflow's own loaders have no type hints, which MLflow notes, in colour, when the
  classes are defined, under its own ``simplefilter("once")``: a warnings filter
  cannot silence it, so Python warnings are captured into logging, where
  :class:`NoticeFilter` drops these.

``init`` runs from the ``kedro.init`` entry point (:mod:`reelops.startup`), before
Kedro loads any plugin.
Every other warning still reaches the console (``conf/logging.yml``), and ``kedro
run`` keeps them all in its log file (:mod:`reelops.run_log`).
"""

from __future__ import annotations

import logging
import re
import warnings

__all__ = ["NOTICES", "NoticeFilter", "init", "silence_notices"]

#: Regexes (matched from the start) of the messages that are dropped.
NOTICES = (
    r"register_new_resolver\(\) is deprecated",
    r"One or more dataset names contain '\.' characters",
    r".*Add type hints to the `predict` method",
    r".*Any type hint is inferred as AnyType",
)
_PATTERNS = tuple(re.compile(notice) for notice in NOTICES)


def silence_notices() -> None:
    """Ignore the notices through the warnings filters (where a filter works)."""
    for notice in NOTICES:
        warnings.filterwarnings("ignore", message=notice, category=UserWarning)


class NoticeFilter(logging.Filter):
    """Drop captured warnings whose message is one of :data:`NOTICES`."""

    def filter(self, record: logging.LogRecord) -> bool:
        """Whether ``record`` is not a known notice."""
        text = record.getMessage()
        # A captured warning reads "<file>:<line>: <Category>: <message>".
        message = text.split(": ", 2)[-1] if ": " in text else text
        return not any(pattern.match(message) for pattern in _PATTERNS)


def init() -> None:
    """Silence the notices, and capture warnings into logging to drop the rest."""
    silence_notices()
    logging.captureWarnings(True)
    logging.getLogger("py.warnings").addFilter(NoticeFilter())
