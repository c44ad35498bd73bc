"""Train, test and predict any task: ``python train.py task=<name> [key=value ...]``.

Hydra composes ``conf/train.yaml`` with ``conf/task/<name>.yaml``; this file instantiates the data
module, builds the model from what the data describes, runs the stages that are switched on, and
leaves the run directory with the config, ``metrics.csv``, ``metrics.json``, checkpoints and the
task's reports. It returns ``optimized_metric`` for sweepers.

A task may first run earlier training stages (``stages.<name>``: ULMFiT's language model before its
classifier): each is the same run with the stage's config groups in place of the task's (its
``trainer`` merged into the task's), in the subdirectory ``<name>`` of the run directory, where the
later stages find its artifacts (``${paths.output_dir}/<name>/encoder.pt``).
"""

from __future__ import annotations

import copy
import json
import logging
import warnings
from pathlib import Path

import hydra
import pytorch_lightning as pl
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf, open_dict
from pytorch_lightning.utilities.model_helpers import is_overridden

from lightning_models.callbacks import LRFinder
from lightning_models.checkpoints import check_checkpoint

log = logging.getLogger(__name__)


def instantiate_group(group: DictConfig | None) -> list:
    """Every entry of a config group that has a ``_target_`` (entries set to null are skipped)."""
    if not group:
        return []
    return [instantiate(node, _convert_="all") for node in group.values() if node and "_target_" in node]


def find_checkpoint(ckpt_path: str | None, cfg: DictConfig) -> str | None:
    """``ckpt_path`` as given, or for ``last`` this run's last.ckpt, else the newest one of the task."""
    if ckpt_path is None:
        return None
    if ckpt_path != "last":
        return ckpt_path
    own = Path(cfg.paths.output_dir) / "checkpoints" / "last.ckpt"
    if own.is_file():
        return str(own)
    task_dir = Path(cfg.paths.log_dir) / cfg.task_name
    found = sorted(task_dir.glob("**/checkpoints/last.ckpt"), key=lambda p: p.stat().st_mtime)
    if not found:
        raise FileNotFoundError(
            f"ckpt_path=last: no checkpoints/last.ckpt in {own.parent.parent} or under {task_dir}; "
            f"train first, or give the path of a checkpoint"
        )
    log.info(f"resuming from {found[-1]}")
    return str(found[-1])


def plain_metrics(metrics: dict) -> dict[str, float]:
    """The train/val/test metrics as plain floats."""
    return {k: float(v) for k, v in metrics.items() if k.split("/")[0] in ("train", "val", "test")}


def stage_config(cfg: DictConfig, name: str) -> DictConfig:
    """The config of the earlier stage ``name``: ``cfg`` with the stage's groups, writing to ``<output_dir>/<name>``.

    The stage's values are resolved before they replace the task's, so ``${model.emb_sz}`` in a stage
    means the task's model, while ``${paths.output_dir}`` already means the stage's directory.
    """
    stage_cfg = copy.deepcopy(cfg)
    with open_dict(stage_cfg):
        stage_cfg.paths.output_dir = str(Path(cfg.paths.output_dir) / name)
        groups = OmegaConf.to_container(stage_cfg.stages[name], resolve=True)
        del stage_cfg["stages"]
        for key, value in groups.items():
            stage_cfg[key] = OmegaConf.merge(stage_cfg[key], value) if key == "trainer" else value
    return stage_cfg


def run(cfg: DictConfig) -> dict[str, float]:
    """Run the earlier stages, if any, then fit, test and predict as ``cfg`` says; returns the final metrics."""
    for name in cfg.get("stages") or {}:
        log.info(f"stage {name}")
        run_stage(stage_config(cfg, name))
    return run_stage(cfg)


def run_stage(cfg: DictConfig) -> dict[str, float]:
    """Fit, test and predict as ``cfg`` says; returns the final metrics (also in metrics.json)."""
    out = Path(cfg.paths.output_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "config.yaml").write_text(OmegaConf.to_yaml(cfg, resolve=True))
    if cfg.get("seed") is not None:
        pl.seed_everything(cfg.seed, workers=True)

    datamodule = instantiate(cfg.data, _convert_="all")
    datamodule.prepare_data()
    datamodule.setup("fit")
    model = instantiate(cfg.model, **datamodule.describe(), _convert_="all")

    callbacks = instantiate_group(cfg.get("callbacks"))
    if cfg.get("tune_lr") and not any(isinstance(c, LRFinder) for c in callbacks):
        callbacks.append(LRFinder())
    loggers = instantiate_group(cfg.get("logger"))
    if not (Path(cfg.paths.output_dir) / "metrics.csv").exists():
        # Hydra has already written the config and train.log here; the CSV logger's warning that it will
        # delete earlier log files matters only when there is an earlier metrics.csv
        warnings.filterwarnings("ignore", message="Experiment logs directory .* exists and is not empty")
    trainer: pl.Trainer = instantiate(cfg.trainer, callbacks=callbacks, logger=loggers or False, _convert_="all")

    ckpt_path = find_checkpoint(cfg.get("ckpt_path"), cfg)
    if ckpt_path is not None:
        check_checkpoint(ckpt_path, model)
    weights = None if cfg.get("train") else ckpt_path
    metrics: dict[str, float] = {}
    if cfg.get("train"):
        trainer.fit(model, datamodule=datamodule, ckpt_path=ckpt_path, weights_only=True)
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


def optimized_value(metrics: dict[str, float], name: str | None) -> float | None:
    """The metric a sweeper optimizes, checked to have been logged."""
    if not name:
        return None
    if name not in metrics:
        raise KeyError(f"optimized_metric={name!r} was not logged; the run logged: {', '.join(sorted(metrics))}")
    return metrics[name]


@hydra.main(version_base="1.3", config_path="conf", config_name="train")
def main(cfg: DictConfig) -> float | None:
    return optimized_value(run(cfg), cfg.get("optimized_metric"))


if __name__ == "__main__":
    main()
