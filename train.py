"""Train, test and predict any task: ``python train.py task=<name> [key=value ...]``.

Hydra composes ``conf/train.yaml`` with ``conf/task/<name>.yaml``; this file instantiates the data
module, builds the model from what the data describes, runs the stages that are switched on, and
leaves the run directory with the config, ``metrics.csv``, ``metrics.json``, checkpoints and the
task's reports. It returns ``optimized_metric`` for sweepers.

Any constructor argument of the task's model, data module, callbacks or of Lightning's ``Trainer``
can be set without a ``+`` (``trainer.limit_train_batches=5``); a name that is not an argument is
refused with the arguments there are.

A task may first run earlier training stages (``stages.<name>``: ULMFiT's language model before its
classifier): each is the same run with the stage's config groups in place of the task's (its
``trainer`` merged into the task's, except for the trainer keys given on the command line), in the
subdirectory ``<name>`` of the run directory, where the later stages find its artifacts
(``${paths.output_dir}/<name>/encoder.pt``).
"""

from __future__ import annotations

import copy
import difflib
import inspect
import json
import logging
import re
import sys
import warnings
from pathlib import Path

import hydra
import pytorch_lightning as pl
import torch
from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback as HydraCallback
from hydra.utils import get_object, instantiate
from omegaconf import DictConfig, OmegaConf, open_dict
from pytorch_lightning.utilities.model_helpers import is_overridden

from datamodules.files import DataError
from lightning_models.callbacks import LRFinder
from lightning_models.checkpoints import CheckpointError, check_checkpoint

log = logging.getLogger(__name__)

# overrides of these nodes may name any constructor argument: `model.x=1` becomes `++model.x=1`
OPEN_NODES = re.compile(r"^(?:stages\.\w+\.)?(?:model|data|trainer|callbacks\.\w+)\.[\w.]+=")


def open_overrides(overrides: list[str]) -> list[str]:
    """The command line with ``++`` before plain overrides of constructor arguments (checked later)."""
    return [f"++{o}" if OPEN_NODES.match(o) else o for o in overrides]


class MultirunHydraConfig(HydraCallback):
    """Makes the ``${hydra:...}`` resolver usable while a sweep starts, so ``hydra.sweep.dir`` can
    follow ``paths.log_dir`` and ``task_name`` as ``hydra.run.dir`` does."""

    def on_multirun_start(self, config: DictConfig, **kwargs) -> None:
        HydraConfig.instance().set_config(config)


class ConfigError(ValueError):
    """A setting that cannot work; the message names the key and what to do."""


HYDRA_KEYS = {"_target_", "_convert_", "_recursive_", "_partial_", "_args_"}
KEYWORD_KINDS = (inspect.Parameter.POSITIONAL_OR_KEYWORD, inspect.Parameter.KEYWORD_ONLY)


def accepted_arguments(target: str) -> set[str] | None:
    """The keyword arguments ``target`` takes, following ``**kwargs`` up the base classes (None: any)."""
    obj = get_object(target)
    functions = [vars(c)["__init__"] for c in obj.__mro__ if "__init__" in vars(c)] if isinstance(obj, type) else [obj]
    names: set[str] = set()
    for function in functions:
        params = inspect.signature(function).parameters.values()
        names |= {p.name for p in params if p.kind in KEYWORD_KINDS and p.name != "self"}
        if not any(p.kind == inspect.Parameter.VAR_KEYWORD for p in params):
            return names
    return None


def check_node(node: DictConfig, where: str) -> None:
    """Every key of ``node`` (and of the nodes with a ``_target_`` inside it) is an argument of its target."""
    accepted = accepted_arguments(node._target_)
    for key, value in node.items():
        if isinstance(value, DictConfig) and "_target_" in value:
            check_node(value, f"{where}.{key}")
        if accepted is None or key in accepted or key in HYDRA_KEYS:
            continue
        close = difflib.get_close_matches(str(key), accepted, n=1)
        hint = f"; did you mean {where}.{close[0]}?" if close else ""
        raise ConfigError(
            f"{where}.{key} is not an argument of {node._target_}{hint} It takes: {', '.join(sorted(accepted))}"
        )


def check_arguments(cfg: DictConfig) -> None:
    """Refuse settings that name no constructor argument, before anything is built."""
    nodes = {"model": cfg.get("model"), "data": cfg.get("data"), "trainer": cfg.get("trainer")}
    for group in ("callbacks", "logger"):
        nodes |= {f"{group}.{name}": node for name, node in (cfg.get(group) or {}).items()}
    for where, node in nodes.items():
        if not node:
            continue
        if "_target_" not in node:
            group = where.replace(".", "/")
            raise ConfigError(
                f"{where} sets {', '.join(node)} but names no class: this task has no {group}; "
                f"choose one first, e.g. {group}=<name> (the choices are the files in conf/{group}/)"
            )
        check_node(node, where)


def check_devices(trainer: DictConfig) -> None:
    """A GPU setting on a machine without one is refused with what to use instead."""
    wants_gpu = trainer.get("accelerator") in ("gpu", "cuda") or str(trainer.get("precision")) in ("16-mixed", "16")
    if wants_gpu and not torch.cuda.is_available():
        raise ConfigError(
            f"trainer.accelerator={trainer.get('accelerator')} trainer.precision={trainer.get('precision')} needs a "
            f"GPU, and torch sees none here; on a CPU use trainer=cpu or trainer=ddp_cpu, and "
            f"trainer.precision=bf16-mixed for mixed precision"
        )


def instantiate_group(group: DictConfig | None) -> list:
    """Every entry of a config group that has a ``_target_`` (entries set to null are skipped)."""
    if not group:
        return []
    return [instantiate(node, _convert_="all") for node in group.values() if node and "_target_" in node]


def find_checkpoint(ckpt_path: str | None, cfg: DictConfig, stage: str | None = None) -> str | None:
    """``ckpt_path`` as given, or for ``last`` this run's last.ckpt, else the newest single run's of the task."""
    if ckpt_path is None:
        return None
    if ckpt_path != "last":
        return ckpt_path
    own = Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt"
    if own.is_file():
        return str(own)
    runs = Path(cfg.paths.log_dir) / cfg.task_name / "runs"
    pattern = f"*/{stage}/checkpoints/last.ckpt" if stage else "*/checkpoints/last.ckpt"
    found = sorted(runs.glob(pattern), key=lambda p: p.stat().st_mtime)
    if not found:
        raise CheckpointError(
            f"ckpt_path=last: no checkpoints/last.ckpt in {own.parent.parent} or in a run under {runs}; "
            f"train first, or give the path of a checkpoint"
        )
    log.info(f"ckpt_path=last: resuming from {found[-1]}, the newest run of task {cfg.task_name}")
    return str(found[-1])


def plain_metrics(metrics: dict) -> dict[str, float]:
    """The train/val/test metrics as plain floats."""
    return {k: float(v) for k, v in metrics.items() if k.split("/")[0] in ("train", "val", "test")}


def command_line_keys() -> set[str]:
    """The dotted keys set by this run's command line (none outside a Hydra run)."""
    if not HydraConfig.initialized():
        return set()
    return {o.lstrip("+~").split("=", 1)[0] for o in HydraConfig.get().overrides.task}


def stage_config(cfg: DictConfig, name: str) -> DictConfig:
    """The config of the earlier stage ``name``: ``cfg`` with the stage's groups, writing to ``<output_dir>/<name>``.

    The stage's values are resolved before they replace the task's, so ``${model.emb_sz}`` in a stage
    means the task's model, while ``${paths.output_dir}`` already means the stage's directory. Trainer
    keys given on the command line (``trainer.max_epochs=1``) hold for every stage.
    """
    stage_cfg = copy.deepcopy(cfg)
    given = {key.split(".", 1)[1] for key in command_line_keys() if key.startswith("trainer.")}
    with open_dict(stage_cfg):
        stage_cfg.paths.output_dir = str(Path(cfg.paths.output_dir) / name)
        groups = OmegaConf.to_container(stage_cfg.stages[name], resolve=True)
        del stage_cfg["stages"]
        for key, value in groups.items():
            stage_cfg[key] = OmegaConf.merge(stage_cfg[key], value) if key == "trainer" else value
        for key in given:
            OmegaConf.update(stage_cfg.trainer, key, OmegaConf.select(cfg.trainer, key), force_add=True)
    return stage_cfg


def run(cfg: DictConfig) -> dict[str, float]:
    """Run the earlier stages, if any, then fit, test and predict as ``cfg`` says; returns the final metrics."""
    for name in cfg.get("stages") or {}:
        log.info(f"stage {name}")
        run_stage(stage_config(cfg, name), stage=name)
    return run_stage(cfg)


def epochs_from_schedules(cfg: DictConfig, callbacks: list) -> None:
    """``trainer.max_epochs: null`` takes the epochs of a schedule that has its own length (SGDR, stages)."""
    lengths = [cb.n_epochs for cb in callbacks if hasattr(cb, "n_epochs")]
    if cfg.trainer.get("max_epochs") is None and lengths:
        with open_dict(cfg):
            cfg.trainer.max_epochs = max(lengths)


def run_stage(cfg: DictConfig, stage: str | None = None) -> dict[str, float]:
    """Fit, test and predict as ``cfg`` says; returns the final metrics (also in metrics.json)."""
    check_arguments(cfg)
    check_devices(cfg.trainer)
    out = Path(cfg.paths.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    if cfg.get("seed") is not None:
        pl.seed_everything(cfg.seed, workers=True, verbose=False)

    datamodule = instantiate(cfg.data, _convert_="all")
    datamodule.prepare_data()
    datamodule.setup("fit")
    model = instantiate(cfg.model, **datamodule.describe(), _convert_="all")

    callbacks = instantiate_group(cfg.get("callbacks"))
    if cfg.get("tune_lr") and not any(isinstance(c, LRFinder) for c in callbacks):
        callbacks.append(LRFinder())
    epochs_from_schedules(cfg, callbacks)
    (out / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
    loggers = instantiate_group(cfg.get("logger"))
    if not (Path(cfg.paths.output_dir) / "metrics.csv").exists():
        # Hydra has already written the config and train.log here; the CSV logger's warning that it will
        # delete earlier log files matters only when there is an earlier metrics.csv
        warnings.filterwarnings("ignore", message="Experiment logs directory .* exists and is not empty")
    trainer: pl.Trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False, _convert_="all")

    ckpt_path = find_checkpoint(cfg.get("ckpt_path"), cfg, stage)
    if ckpt_path is not None:
        check_checkpoint(ckpt_path, model)
        # resuming into its own run directory, whose checkpoints are expected to be there
        warnings.filterwarnings("ignore", message="Checkpoint directory .* exists and is not empty")
    weights = None if cfg.get("train") else ckpt_path
    metrics: dict[str, float] = {}
    if cfg.get("train"):
        trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
        metrics.update(plain_metrics(trainer.callback_metrics))
        if not any(key.startswith("val/") for key in metrics):
            # nothing was validated (a resumed run that had finished): report the model as it is
            trainer.validate(model, datamodule=datamodule, verbose=False)
            metrics.update(plain_metrics(trainer.callback_metrics))
        for owner in (datamodule, model):
            if hasattr(owner, "export"):
                owner.export(out)
    if cfg.get("test"):
        if is_overridden("test_dataloader", datamodule):
            trainer.test(model, datamodule=datamodule, ckpt_path=weights, weights_only=True)
            metrics.update(plain_metrics(trainer.callback_metrics))
        else:
            log.info(f"{type(datamodule).__name__} has no test set; skipping test")
    if cfg.get("predict"):
        predictor = trainer
        if trainer.world_size > 1:
            predictor = instantiate(cfg.trainer, devices=1, strategy="auto", num_nodes=1, logger=False, callbacks=[])
        predictions = predictor.predict(model, datamodule=datamodule, ckpt_path=weights, weights_only=True)
        log.info(f"predictions written to {datamodule.write_predictions(predictions, out)}")

    if trainer.is_global_zero:
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
        print(f"run directory: {out}")
    return metrics


def optimized_value(metrics: dict[str, float], name: str | None, trained: bool = True) -> float | None:
    """The metric a sweeper optimizes, checked to have been logged; nothing for a run that did not train."""
    if not name or not trained:
        return None
    if name not in metrics:
        raise ConfigError(f"optimized_metric={name!r} was not logged; the run logged: {', '.join(sorted(metrics))}")
    return metrics[name]


def quiet_known_noise() -> None:
    """Silence what dependencies say that is known to be harmless here; every other warning stays.

    Lightning's own messages go through Hydra's logging, so ``train.log`` holds them too.
    """
    # Lightning 2.6 calls an API that newer torch deprecates
    warnings.filterwarnings("ignore", message=r"`isinstance\(treespec, LeafSpec\)` is deprecated")
    # every module also logs train/loss at an epoch's last batch, so short epochs log it anyway
    warnings.filterwarnings("ignore", message=r"The number of training batches \(\d+\) is smaller than the logging")
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


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    quiet_known_noise()
    try:
        return optimized_value(run(cfg), cfg.get("optimized_metric"), bool(cfg.get("train")))
    except (ConfigError, DataError, CheckpointError) as e:
        log.error(str(e))
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(1) from None


if __name__ == "__main__":
    sys.argv[1:] = open_overrides(sys.argv[1:])
    main()
