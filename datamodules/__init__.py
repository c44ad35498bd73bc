"""LightningDataModules and their data preparation; no Hydra in here.

Each name is imported at its first use, so ``from datamodules import MovieLensDataModule`` does not
import spaCy (text) or torchvision (images).
"""

from typing import TYPE_CHECKING

from lightning_models.lazy import lazy_exports

if TYPE_CHECKING:
    from datamodules.files import DataError
    from datamodules.images import CIFAR10DataModule, ImageFolderDataModule, MNISTDataModule
    from datamodules.movielens import MovieLensDataModule
    from datamodules.rossmann import RossmannDataModule
    from datamodules.source import DataSource
    from datamodules.style_images import StyleImagesDataModule
    from datamodules.tabular import TabularDataModule
    from datamodules.text import LanguageModelDataModule, TextClassificationDataModule
    from datamodules.weekly_sales import WeeklySalesDataModule

__all__ = [
    "CIFAR10DataModule",
    "DataError",
    "DataSource",
    "ImageFolderDataModule",
    "LanguageModelDataModule",
    "MNISTDataModule",
    "MovieLensDataModule",
    "RossmannDataModule",
    "StyleImagesDataModule",
    "TabularDataModule",
    "TextClassificationDataModule",
    "WeeklySalesDataModule",
]

__getattr__, __dir__ = lazy_exports(
    __name__,
    {
        ".files": ["DataError"],
        ".images": ["CIFAR10DataModule", "ImageFolderDataModule", "MNISTDataModule"],
        ".movielens": ["MovieLensDataModule"],
        ".rossmann": ["RossmannDataModule"],
        ".source": ["DataSource"],
        ".style_images": ["StyleImagesDataModule"],
        ".tabular": ["TabularDataModule"],
        ".text": ["LanguageModelDataModule", "TextClassificationDataModule"],
        ".weekly_sales": ["WeeklySalesDataModule"],
    },
)
