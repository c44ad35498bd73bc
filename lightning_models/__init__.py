"""The fast.ai course models as LightningModules; no Hydra in here."""

from lightning_models.base import RecipeModule
from lightning_models.collab import CollabModule, EmbeddingDot, EmbeddingDotBias, EmbeddingNet
from lightning_models.metrics import ExpRMSPE, exp_rmspe
from lightning_models.tabular import EntityEmbeddings, SparseDropout, TabularModule, TabularNet

__all__ = [
    "CollabModule",
    "EmbeddingDot",
    "EmbeddingDotBias",
    "EmbeddingNet",
    "EntityEmbeddings",
    "ExpRMSPE",
    "RecipeModule",
    "SparseDropout",
    "TabularModule",
    "TabularNet",
    "exp_rmspe",
]
