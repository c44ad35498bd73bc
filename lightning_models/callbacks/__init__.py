"""Training recipes as Lightning callbacks; each name is imported at its first use."""

from typing import TYPE_CHECKING

from lightning_models.lazy import lazy_exports

if TYPE_CHECKING:
    from lightning_models.callbacks.finetuning import GradualUnfreezing, UnfreezingStages
    from lightning_models.callbacks.interrupt import InterruptCheckpoint
    from lightning_models.callbacks.lr_finder import LRFinder
    from lightning_models.callbacks.mixup import MixUp
    from lightning_models.callbacks.plots import EmbeddingReport, ForecastPlot, LossCurve
    from lightning_models.callbacks.reports import EpochCurves, PredictionGrid, ValidationReport
    from lightning_models.callbacks.schedules import SGDR, Constant, Cosine, FlatCos, OneCycle, StepSchedule

__all__ = [
    "SGDR",
    "Constant",
    "Cosine",
    "EmbeddingReport",
    "EpochCurves",
    "FlatCos",
    "ForecastPlot",
    "GradualUnfreezing",
    "InterruptCheckpoint",
    "LRFinder",
    "LossCurve",
    "MixUp",
    "OneCycle",
    "PredictionGrid",
    "StepSchedule",
    "UnfreezingStages",
    "ValidationReport",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        ".finetuning": ["GradualUnfreezing", "UnfreezingStages"],
        ".interrupt": ["InterruptCheckpoint"],
        ".lr_finder": ["LRFinder"],
        ".mixup": ["MixUp"],
        ".plots": ["EmbeddingReport", "ForecastPlot", "LossCurve"],
        ".reports": ["EpochCurves", "PredictionGrid", "ValidationReport"],
        ".schedules": ["SGDR", "Constant", "Cosine", "FlatCos", "OneCycle", "StepSchedule"],
    },
)
