"""The fast.ai course models as LightningModules; no Hydra in here."""

from lightning_models.base import RecipeModule
from lightning_models.collab import CollabModule, EmbeddingDot, EmbeddingDotBias, EmbeddingNet
from lightning_models.metrics import ExpRMSPE, exp_rmspe
from lightning_models.tabular import EntityEmbeddings, SparseDropout, TabularModule, TabularNet
from lightning_models.text import LanguageModel, TextClassifier
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
    "EntityEmbeddings",
    "ExpRMSPE",
    "HandLogisticRegression",
    "LanguageModel",
    "LogisticRegression",
    "LogisticRegressionModule",
    "RecipeModule",
    "SimpleCNN",
    "SparseDropout",
    "TabularModule",
    "TabularNet",
    "TextClassifier",
    "exp_rmspe",
]
