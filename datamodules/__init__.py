"""LightningDataModules and their data preparation; no Hydra in here."""

from datamodules.files import DataError
from datamodules.movielens import MovieLensDataModule
from datamodules.text import LanguageModelDataModule

__all__ = ["DataError", "LanguageModelDataModule", "MovieLensDataModule"]
