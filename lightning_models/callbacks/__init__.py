"""Training recipes as Lightning callbacks."""

from lightning_models.callbacks.finetuning import GradualUnfreezing, UnfreezingStages
from lightning_models.callbacks.interrupt import InterruptCheckpoint
from lightning_models.callbacks.lr_finder import LRFinder
from lightning_models.callbacks.plots import EmbeddingReport
from lightning_models.callbacks.schedules import SGDR, FlatCos, OneCycle, StepSchedule

__all__ = [
    "SGDR",
    "EmbeddingReport",
    "FlatCos",
    "GradualUnfreezing",
    "InterruptCheckpoint",
    "LRFinder",
    "OneCycle",
    "StepSchedule",
    "UnfreezingStages",
]
