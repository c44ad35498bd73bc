"""``python -m fastlightning task=<name> [key=value ...]``: the same as ``python train.py`` or ``fastlightning``."""

from fastlightning.cli import entry

entry()
