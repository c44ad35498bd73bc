"""The fast.ai course models as LightningModules; no Hydra in here.

Each name is imported at its first use, so ``from lightning_models import CollabModule`` does not
import torchvision (the image models) or the text models.
"""

from typing import TYPE_CHECKING

from lightning_models.lazy import lazy_exports

if TYPE_CHECKING:
    from lightning_models.base import RecipeModule
    from lightning_models.collab import CollabModule, EmbeddingDot, EmbeddingDotBias, EmbeddingNet
    from lightning_models.layers import SparseDropout
    from lightning_models.metrics import ExpRMSPE, exp_rmspe
    from lightning_models.style_transfer import StyleTransfer
    from lightning_models.tabular import EntityEmbeddings, TabularClassifier, TabularModule, TabularNet
    from lightning_models.text import LanguageModel, TextClassifier
    from lightning_models.vision import (
        BackboneModule,
        BackboneNet,
        CNNModule,
        HandLogisticRegression,
        LogisticRegression,
        LogisticRegressionModule,
        SimpleCNN,
        WorkshopCNNModule,
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
    "StyleTransfer",
    "TabularClassifier",
    "TabularModule",
    "TabularNet",
    "TextClassifier",
    "WorkshopCNNModule",
    "exp_rmspe",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        ".base": ["RecipeModule"],
        ".collab": ["CollabModule", "EmbeddingDot", "EmbeddingDotBias", "EmbeddingNet"],
        ".layers": ["SparseDropout"],
        ".metrics": ["ExpRMSPE", "exp_rmspe"],
        ".style_transfer": ["StyleTransfer"],
        ".tabular": ["EntityEmbeddings", "TabularClassifier", "TabularModule", "TabularNet"],
        ".text": ["LanguageModel", "TextClassifier"],
        ".vision": [
            "BackboneModule",
            "BackboneNet",
            "CNNModule",
            "HandLogisticRegression",
            "LogisticRegression",
            "LogisticRegressionModule",
            "SimpleCNN",
            "WorkshopCNNModule",
        ],
    },
)
