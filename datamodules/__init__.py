"""LightningDataModules and their data preparation; no Hydra in here."""

from datamodules.files import DataError
from datamodules.movielens import MovieLensDataModule

__all__ = ["DataError", "MovieLensDataModule"]
