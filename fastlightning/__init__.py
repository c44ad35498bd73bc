"""The Hydra layer over the modules: compose a task's config, check it, run it (``python train.py``), and use a
finished run (``load_run``, imported at its first use: a training run does not need it)."""

from typing import TYPE_CHECKING

from fastlightning.config import ConfigError, compose_task
from fastlightning.runner import run
from lightning_models.lazy import lazy_exports

if TYPE_CHECKING:
    from fastlightning.predictor import load_run

__all__ = ["ConfigError", "compose_task", "load_run", "run"]

__getattr__, __dir__ = lazy_exports(__name__, {".predictor": ["load_run"]})
