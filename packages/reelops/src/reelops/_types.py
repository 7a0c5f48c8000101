"""Heavy classes that node annotations name, without importing their libraries.

Kedro imports every node module on every command (the pipeline registry resolves
each node's function), and it reads node functions' type hints when a pipeline
runs (``typing.get_type_hints``, for parameter validation). Importing recsys
(scikit-learn, SciPy, numba) and matplotlib for annotations alone costs seconds
per command, so each name below is the real class for type checkers and, at run
time, ``object``: annotations still resolve, and Kedro validates only parameters
typed as pydantic models or dataclasses, never these. Node functions import what
they call at run time inside their bodies.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from matplotlib.figure import Figure

    from recsys import BaseRecommender
else:
    # Stand-ins for annotations only (see the module docstring): never call them,
    # never use them in isinstance().
    Figure = object
    BaseRecommender = object

__all__ = ["BaseRecommender", "Figure"]
