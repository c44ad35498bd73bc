"""The command line: ``python train.py task=<name> [key=value ...]`` (see train.py)."""

from __future__ import annotations

import logging
import re
import signal
import sys
import traceback
import warnings
from pathlib import Path

import hydra
from hydra.errors import InstantiationException
from omegaconf import DictConfig
from pytorch_lightning.utilities.exceptions import MisconfigurationException, SIGTERMException

from datamodules.files import DataError
from fastlightning.config import CONF_DIR, ConfigError, accepted_arguments, open_overrides
from fastlightning.runner import optimized_value, run
from lightning_models.checkpoints import CheckpointError

log = logging.getLogger(__name__)


def quiet_known_noise() -> None:
    """Silence what dependencies say that is known to be harmless here; every other warning stays.

    Lightning's own messages go through Hydra's logging, so ``train.log`` holds them too.
    """
    # Lightning 2.6 calls an API that newer torch deprecates
    warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated")
    # every module also logs train/loss at an epoch's last batch, so short epochs log it anyway
    warnings.filterwarnings("ignore", message=r"The number of training batches \(\d+\) is smaller than the logging")
    # a frozen body's BatchNorm layers are kept in eval mode on purpose (their statistics stay fixed)
    warnings.filterwarnings("ignore", message=r"Found \d+ module\(s\) in eval mode at the start of training")
    logging.getLogger("alembic").setLevel(logging.WARNING)
    lightning = logging.getLogger("pytorch_lightning")
    for handler in list(lightning.handlers):
        lightning.removeHandler(handler)
    lightning.propagate = True
    logging.getLogger("pytorch_lightning.utilities.rank_zero").addFilter(drop_lightning_adverts)


def drop_lightning_adverts(record: logging.LogRecord) -> bool:
    """Lightning's tips for its cloud products and its report of the TPUs and HPUs a machine lacks."""
    message = record.getMessage()
    return not (message.startswith("💡 Tip") or re.match(r"[TH]PU available: False", message))


@hydra.main(version_base="1.3", config_path=str(CONF_DIR), config_name="train")
def main(cfg: DictConfig) -> float | None:
    quiet_known_noise()
    try:
        return optimized_value(run(cfg), cfg.get("optimized_metric"), bool(cfg.get("train")))
    except SIGTERMException:
        # Lightning ends a SIGTERM'd fit (or one stopped by a first Ctrl-C) with a SystemExit of status 0;
        # a preempted job must not look finished
        log.error("stopped by SIGTERM or Ctrl-C; resume with ckpt_path=last")
        raise SystemExit(128 + signal.SIGTERM) from None
    except Exception as e:
        message = user_message(e)
        if message is None:
            raise
        log.error(message)
        print(f"error: {message}", file=sys.stderr)
        raise SystemExit(1) from None


def user_message(error: Exception) -> str | None:
    """What to tell the user of an error in their settings or files (None for a bug, which keeps its traceback).

    A constructor that refuses its arguments raises a ValueError, which Hydra's ``instantiate`` wraps:
    the message is the constructor's, with the class it came from and the config key that built it.
    Lightning's own classes (the trainer, callbacks, loggers) also refuse settings with a TypeError or
    its MisconfigurationException.
    """
    if isinstance(error, (ConfigError, DataError, CheckpointError)):
        return str(error)
    if not isinstance(error, InstantiationException):
        return trainer_refusal(error)
    target = re.search(r"target '([\w.]+)'", str(error))
    target = target.group(1) if target else "building the run"
    refused = (
        (ValueError, TypeError, MisconfigurationException) if target.startswith("pytorch_lightning") else ValueError
    )
    if not isinstance(error.__cause__, refused):
        return None
    key = re.search(r"full_key: (\S+)", str(error))
    return f"{error.__cause__} ({target}{', from the settings of ' + key.group(1) if key else ''})"


def trainer_refusal(error: Exception) -> str | None:
    """Lightning's loops check some trainer settings only against the data (``val_check_interval`` larger
    than an epoch): their ValueError, named by the ``trainer.*`` keys its message quotes."""
    if not isinstance(error, (ValueError, MisconfigurationException)):
        return None
    raised_in = traceback.extract_tb(error.__traceback__)[-1].filename
    quoted = dict.fromkeys(re.findall(r"`(\w+)", str(error)))
    keys = [f"trainer.{name}" for name in quoted if name in (accepted_arguments("pytorch_lightning.Trainer") or ())]
    if "pytorch_lightning" not in Path(raised_in).parts or not keys:
        return None
    return f"{str(error).strip()} (pytorch_lightning.Trainer, from the settings of {', '.join(keys)})"


def entry() -> None:
    """``train.py``'s main: constructor arguments given without ``+`` are let in, then Hydra runs."""
    sys.argv[1:] = open_overrides(sys.argv[1:])
    main()
