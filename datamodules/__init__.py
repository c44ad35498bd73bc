"""LightningDataModules and their data preparation; no Hydra in here."""

from datamodules.files import DataError
from datamodules.images import CIFAR10DataModule, ImageFolderDataModule, MNISTDataModule
from datamodules.movielens import MovieLensDataModule
from datamodules.rossmann import RossmannDataModule
from datamodules.tabular import TabularDataModule
from datamodules.text import LanguageModelDataModule, TextClassificationDataModule

__all__ = [
    "CIFAR10DataModule",
    "DataError",
    "ImageFolderDataModule",
    "LanguageModelDataModule",
    "MNISTDataModule",
    "MovieLensDataModule",
    "RossmannDataModule",
    "TabularDataModule",
    "TextClassificationDataModule",
]
