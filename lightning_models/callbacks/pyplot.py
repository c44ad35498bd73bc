"""matplotlib for the reports, which it only writes to files; it is an optional extra (``.[plots]``)."""

from __future__ import annotations

import importlib.util
from types import ModuleType


def pyplot() -> ModuleType | None:
    """``matplotlib.pyplot`` on the file-only Agg backend, or None when matplotlib is not installed."""
    if importlib.util.find_spec("matplotlib") is None:
        return None
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt
