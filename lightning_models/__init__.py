"""The fast.ai course models as LightningModules; no Hydra in here."""

from lightning_models.base import RecipeModule
from lightning_models.collab import CollabModule, EmbeddingDot, EmbeddingDotBias, EmbeddingNet
from lightning_models.vision import (
    BackboneModule,
    BackboneNet,
    CNNModule,
    HandLogisticRegression,
    LogisticRegression,
    LogisticRegressionModule,
    SimpleCNN,
)

__all__ = [
    "BackboneModule",
    "BackboneNet",
    "CNNModule",
    "CollabModule",
    "EmbeddingDot",
    "EmbeddingDotBias",
    "EmbeddingNet",
    "HandLogisticRegression",
    "LogisticRegression",
    "LogisticRegressionModule",
    "RecipeModule",
    "SimpleCNN",
]
