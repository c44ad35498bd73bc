"""LightningDataModules and their data preparation; no Hydra in here."""

from datamodules.files import DataError
from datamodules.images import CIFAR10DataModule, ImageFolderDataModule, MNISTDataModule
from datamodules.movielens import MovieLensDataModule

__all__ = ["CIFAR10DataModule", "DataError", "ImageFolderDataModule", "MNISTDataModule", "MovieLensDataModule"]
