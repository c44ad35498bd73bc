"""Image classifiers: logistic regression, a small CNN, the workshop's CNN, a head on a torchvision backbone.

Each name is imported at its first use: the nets on the pixels need no torchvision.
"""

from typing import TYPE_CHECKING

from lightning_models.lazy import lazy_exports

if TYPE_CHECKING:
    from lightning_models.vision.backbone import (
        BackboneNet,
        ConcatPool,
        FeatureCache,
        classification_models,
        classifier_head,
        cut_body,
        feature_channels,
        load_body_weights,
    )
    from lightning_models.vision.modules import (
        BackboneModule,
        CNNModule,
        LogisticRegressionModule,
        VisionModule,
        WorkshopCNNModule,
    )
    from lightning_models.vision.nets import (
        HandLogisticRegression,
        LogisticRegression,
        SimpleCNN,
        WorkshopCNN,
        conv_bn_relu,
    )

__all__ = [
    "BackboneModule",
    "BackboneNet",
    "CNNModule",
    "ConcatPool",
    "FeatureCache",
    "HandLogisticRegression",
    "LogisticRegression",
    "LogisticRegressionModule",
    "SimpleCNN",
    "VisionModule",
    "WorkshopCNN",
    "WorkshopCNNModule",
    "classification_models",
    "classifier_head",
    "conv_bn_relu",
    "cut_body",
    "feature_channels",
    "load_body_weights",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        ".backbone": [
            "BackboneNet",
            "ConcatPool",
            "FeatureCache",
            "classification_models",
            "classifier_head",
            "cut_body",
            "feature_channels",
            "load_body_weights",
        ],
        ".modules": ["BackboneModule", "CNNModule", "LogisticRegressionModule", "VisionModule", "WorkshopCNNModule"],
        ".nets": ["HandLogisticRegression", "LogisticRegression", "SimpleCNN", "WorkshopCNN", "conv_bn_relu"],
    },
)
