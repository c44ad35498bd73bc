"""The Hydra layer over the modules: compose a task's config, check it, run it (``python train.py``), and use a
finished run (``load_run``)."""

from fastlightning.config import ConfigError, compose_task
from fastlightning.predictor import load_run
from fastlightning.runner import run

__all__ = ["ConfigError", "compose_task", "load_run", "run"]
