"""The fast.ai course models as LightningModules; no Hydra in here."""

from lightning_models.base import RecipeModule
from lightning_models.collab import CollabModule, EmbeddingDot, EmbeddingDotBias, EmbeddingNet
from lightning_models.text import LanguageModel

__all__ = ["CollabModule", "EmbeddingDot", "EmbeddingDotBias", "EmbeddingNet", "LanguageModel", "RecipeModule"]
