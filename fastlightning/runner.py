"""One run of a task from its composed config: data, model, callbacks, trainer; fit, test, predict.

A task may first run earlier training stages (``stages.<name>``: ULMFiT's language model before its
classifier): each is the same run with the stage's config groups in place of the task's (its
``trainer`` merged into the task's, except for the trainer keys given on the command line), in the
subdirectory ``<name>`` of the run directory, where the later stages find its artifacts
(``${paths.output_dir}/<name>/encoder.pt``).
"""

from __future__ import annotations

import copy
import csv
import json
import logging
import warnings
from pathlib import Path

import pytorch_lightning as pl
from hydra.core.hydra_config import HydraConfig
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict
from pytorch_lightning.loggers import CSVLogger, WandbLogger
from pytorch_lightning.utilities import rank_zero_only
from pytorch_lightning.utilities.model_helpers import is_overridden

from datamodules.preprocessing import write_preprocessing
from fastlightning.batch_limits import fit_limits_of_at_least_one_batch
from fastlightning.config import ConfigError, accepted_arguments, check_arguments, check_counts, check_devices
from fastlightning.config_tree import print_config_tree
from fastlightning.setting_ranges import check_setting_ranges
from lightning_models.callbacks import LRFinder
from lightning_models.checkpoints import CheckpointError, check_checkpoint
from lightning_models.contracts import OptionalTestSet, SelfContainedData

log = logging.getLogger(__name__)


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


def has_test_set(datamodule: pl.LightningDataModule) -> bool:
    """A test loader, with rows in it where that depends on the settings (``OptionalTestSet``)."""
    if not is_overridden("test_dataloader", datamodule):
        return False
    return datamodule.has_test_set if isinstance(datamodule, OptionalTestSet) else True


def run(cfg: DictConfig) -> dict[str, float]:
    """Run the earlier stages, if any, then fit, test and predict as ``cfg`` says; returns the final metrics."""
    if cfg.get("print_config") and rank_zero_only.rank == 0:
        print_config_tree(cfg)
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


def tta_argument(cfg: DictConfig) -> dict[str, bool]:
    """``tta=true`` as the image model's ``tta`` argument; another model refuses it by name."""
    if not cfg.get("tta"):
        return {}
    accepted = accepted_arguments(cfg.model._target_)
    if accepted is not None and "tta" not in accepted:
        raise ConfigError(
            f"tta=true averages the predictions of each image and its mirror image; {cfg.model._target_} "
            f"(task {cfg.get('task_name')}) is not an image classifier"
        )
    return {"tta": True}


def run_stage(cfg: DictConfig, stage: str | None = None) -> dict[str, float]:
    """Fit, test and predict as ``cfg`` says; returns the final metrics (also in metrics.json)."""
    check_arguments(cfg)
    check_counts(cfg)
    check_setting_ranges(cfg)
    check_devices(cfg.trainer)
    out = Path(cfg.paths.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    if cfg.get("seed") is not None:
        pl.seed_everything(cfg.seed, workers=True, verbose=False)

    datamodule = instantiate(cfg.data, _convert_="all")
    datamodule.prepare_data()
    datamodule.setup("fit")
    model = instantiate(cfg.model, **datamodule.describe(), **tta_argument(cfg), _convert_="all")

    callbacks = instantiate_group(cfg.get("callbacks"))
    if cfg.get("tune_lr") and not any(isinstance(c, LRFinder) for c in callbacks):
        callbacks.append(LRFinder())
    epochs_from_schedules(cfg, callbacks)
    (out / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
    ckpt_path = find_checkpoint(cfg.get("ckpt_path"), cfg, stage)
    loggers = instantiate_group(cfg.get("logger"))
    if ckpt_path is not None:
        step = check_checkpoint(ckpt_path, model).get("global_step", 0)
        # resuming into its own run directory, whose checkpoints are expected to be there
        warnings.filterwarnings("ignore", message="Checkpoint directory .* exists and is not empty")
        if cfg.get("train"):
            keep_earlier_metrics(loggers, int(step))
    if cfg.get("tags"):
        for logger in loggers:
            logger.log_hyperparams({"tags": list(cfg.tags)})
    if not (Path(cfg.paths.output_dir) / "metrics.csv").exists():
        # Hydra has already written the config and train.log here; the CSV logger's warning that it will
        # delete earlier log files matters only when there is an earlier metrics.csv
        warnings.filterwarnings("ignore", message="Experiment logs directory .* exists and is not empty")
    trainer: pl.Trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False, _convert_="all")
    if isinstance(datamodule, SelfContainedData) and trainer.is_global_zero:
        write_preprocessing(datamodule.preprocessing(), out)

    try:
        metrics = fit_test_predict(cfg, trainer, model, datamodule, ckpt_path)
    except BaseException:
        close_logger_runs(loggers, exit_code=1)
        raise
    close_logger_runs(loggers)
    if trainer.is_global_zero:
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n")
        print(f"run directory: {out}")
    return metrics


def close_logger_runs(loggers: list, exit_code: int = 0) -> None:
    """End the W&B run this run logged to: W&B keeps one run per process, which the next run of a sweep
    would otherwise log into."""
    if any(isinstance(logger, WandbLogger) for logger in loggers):
        import wandb

        wandb.finish(exit_code=exit_code)


def keep_earlier_metrics(loggers: list, step: int) -> None:
    """Lightning's CSV logger starts metrics.csv afresh in a folder that has one: a run resumed into its own
    directory keeps the rows it logged before the checkpoint's ``step`` (it logs the later ones again)."""
    if rank_zero_only.rank != 0:
        return
    warnings.filterwarnings("ignore", message="Experiment logs directory .* exists and is not empty")
    for logger in loggers:
        path = Path(logger.log_dir) / "metrics.csv" if isinstance(logger, CSVLogger) else None
        if path is None or not path.is_file():
            continue
        with open(path, newline="") as handle:
            reader = csv.DictReader(handle)
            header, rows = list(reader.fieldnames or []), [r for r in reader if int(r["step"]) < step]
        writer = logger.experiment  # Lightning's writer deletes the file as it starts
        writer.metrics_keys = header
        with open(path, "w", newline="") as handle:
            kept = csv.DictWriter(handle, fieldnames=header)
            kept.writeheader()
            kept.writerows(rows)


def fit_test_predict(
    cfg: DictConfig,
    trainer: pl.Trainer,
    model: pl.LightningModule,
    datamodule: pl.LightningDataModule,
    ckpt_path: str | None,
) -> dict[str, float]:
    """The stages ``cfg`` asks for (train, test, predict), from ``ckpt_path`` if given; returns their metrics."""
    out = Path(cfg.paths.output_dir)
    weights = None if cfg.get("train") else ckpt_path
    metrics: dict[str, float] = {}
    if cfg.get("train"):
        fit_limits_of_at_least_one_batch(trainer, datamodule)
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
        if has_test_set(datamodule):
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
    return metrics


def optimized_value(metrics: dict[str, float], name: str | None, trained: bool = True) -> float | None:
    """The metric a sweeper optimizes, checked to have been logged; nothing for a run that did not train."""
    if not name or not trained:
        return None
    if name not in metrics:
        raise ConfigError(f"optimized_metric={name!r} was not logged; the run logged: {', '.join(sorted(metrics))}")
    return metrics[name]
