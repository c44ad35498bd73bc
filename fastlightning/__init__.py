"""The Hydra layer over the modules: compose a task's config, check it, run it (``python train.py``)."""

from fastlightning.config import ConfigError, compose_task
from fastlightning.runner import run

__all__ = ["ConfigError", "compose_task", "run"]
