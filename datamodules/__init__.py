"""LightningDataModules and their data preparation; no Hydra in here."""

from datamodules.files import DataError
from datamodules.movielens import MovieLensDataModule
from datamodules.rossmann import RossmannDataModule
from datamodules.tabular import TabularDataModule

__all__ = ["DataError", "MovieLensDataModule", "RossmannDataModule", "TabularDataModule"]
