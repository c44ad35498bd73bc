"""The fast.ai course models as LightningModules; no Hydra in here."""

from lightning_models.base import RecipeModule
from lightning_models.collab import CollabModule, EmbeddingDot, EmbeddingDotBias, EmbeddingNet
from lightning_models.metrics import ExpRMSPE, exp_rmspe
from lightning_models.tabular import TabularModule, TabularNet

__all__ = [
    "CollabModule",
    "EmbeddingDot",
    "EmbeddingDotBias",
    "EmbeddingNet",
    "ExpRMSPE",
    "RecipeModule",
    "TabularModule",
    "TabularNet",
    "exp_rmspe",
]
