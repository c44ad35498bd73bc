"""The fast.ai course models as LightningModules; no Hydra in here."""

from lightning_models.base import RecipeModule
from lightning_models.collab import CollabModule, EmbeddingDot, EmbeddingDotBias, EmbeddingNet

__all__ = ["CollabModule", "EmbeddingDot", "EmbeddingDotBias", "EmbeddingNet", "RecipeModule"]
