"""The configs as ``train.py`` composes them, and the checks that run before anything is built.

``compose_task("movielens", ["trainer.max_epochs=1"], run_dir=...)`` gives the config that
``python train.py task=movielens trainer.max_epochs=1`` runs: tests, benchmarks and notebooks use it.
"""

from __future__ import annotations

import difflib
import inspect
import os
import re
from collections.abc import Sequence
from pathlib import Path

import torch
from hydra import compose, initialize_config_dir
from hydra.core.global_hydra import GlobalHydra
from hydra.core.hydra_config import HydraConfig
from hydra.experimental.callback import Callback as HydraCallback
from hydra.utils import get_object
from omegaconf import DictConfig, ListConfig, OmegaConf, open_dict

# the checkout's top-level conf/, which an installed wheel carries as fastlightning/conf
PACKAGED_CONF = Path(__file__).resolve().parent / "conf"
CONF_DIR = PACKAGED_CONF if PACKAGED_CONF.is_dir() else Path(__file__).resolve().parents[1] / "conf"

# ${pid:} in a run or sweep directory's name: two started in the same second get two directories. Cached,
# as Hydra's ${now:} is, so that a launcher's worker processes resolve the sweep's folder as the main one did.
OmegaConf.register_new_resolver("pid", os.getpid, replace=True, use_cache=True)

HIGHER_IS_BETTER = ("acc", "auroc")


def metric_mode(name: str) -> str:
    """``max`` for a metric that grows as the model improves (accuracy, AUROC), else ``min`` (losses, errors)."""
    return "max" if name.rsplit("/", 1)[-1] in HIGHER_IS_BETTER else "min"


# ${metric_mode:${optimized_metric}}: which way an early stop or a checkpoint on the task's metric looks
OmegaConf.register_new_resolver("metric_mode", metric_mode, replace=True)

# ${path_name:${paths.output_dir}}: a run's folder name, the name its loggers give it
OmegaConf.register_new_resolver("path_name", lambda path: Path(path).name, replace=True)

# overrides of these nodes may name any constructor argument: `model.x=1` becomes `++model.x=1`
OPEN_NODES = re.compile(r"^(?:stages\.\w+\.)?(?:model|data|trainer|callbacks\.\w+)\.[\w.]+=")


def open_overrides(overrides: list[str]) -> list[str]:
    """The command line with ``++`` before plain overrides of constructor arguments (checked later)."""
    return [f"++{o}" if OPEN_NODES.match(o) else o for o in overrides]


def compose_task(
    task: str, overrides: Sequence[str] = (), run_dir: str | Path = "run", cache_dir: str | Path | None = None
) -> DictConfig:
    """The config ``python train.py task=<task> <overrides>`` would run, writing into ``run_dir``.

    ``paths.root_dir`` is ``run_dir``'s parent (so ``ckpt_path=last`` looks for earlier runs there);
    ``cache_dir`` is where the prepared data is kept (default: ``paths.cache_dir`` of the config).
    """
    run_dir = Path(run_dir).resolve()
    paths = [f"paths.root_dir={run_dir.parent}", f"paths.output_dir={run_dir}"]
    paths += [f"paths.cache_dir={Path(cache_dir).resolve()}"] if cache_dir is not None else []
    GlobalHydra.instance().clear()
    with initialize_config_dir(str(CONF_DIR), version_base="1.3"):
        cfg = compose("train", overrides=open_overrides([f"task={task}", *paths, *overrides]), return_hydra_config=True)
    HydraConfig.instance().set_config(cfg)
    with open_dict(cfg):
        cfg.task_name = task
        del cfg.hydra
    GlobalHydra.instance().clear()
    return cfg


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


def is_whole(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


DEVICES = re.compile(r"auto|-1|\d+(\s*,\s*\d+)*,?")


def devices_readable(devices: object) -> bool:
    """What Lightning's ``devices`` takes: a count, -1 (all), indices as a list or a string, or auto."""
    if isinstance(devices, ListConfig):
        return all(is_whole(d) and d >= 0 for d in devices)
    if is_whole(devices):
        return devices >= 1 or devices == -1
    return devices is None or (isinstance(devices, str) and DEVICES.fullmatch(devices) is not None)


def check_devices(trainer: DictConfig) -> None:
    """Devices Lightning can read, and no GPU setting on a machine without one (with what to use instead)."""
    devices = trainer.get("devices")
    if not devices_readable(devices):
        raise ConfigError(
            f"trainer.devices={devices!r}: give a number of devices (trainer.devices=2), their indices "
            f"(trainer.devices=[0,1]), -1 for all of them, or auto"
        )
    wants_gpu = trainer.get("accelerator") in ("gpu", "cuda") or str(trainer.get("precision")) in ("16-mixed", "16")
    if wants_gpu and not torch.cuda.is_available():
        raise ConfigError(
            f"trainer.accelerator={trainer.get('accelerator')} trainer.precision={trainer.get('precision')} needs a "
            f"GPU, and torch sees none here; on a CPU use trainer=cpu or trainer=ddp_cpu, and "
            f"trainer.precision=bf16-mixed for mixed precision"
        )


def check_counts(cfg: DictConfig) -> None:
    """The seed and the number of epochs are whole numbers a run can use, refused by key otherwise."""
    seed = cfg.get("seed")
    if seed is not None and not is_whole(seed):
        raise ConfigError(f"seed={seed!r} is not a whole number; give one (seed=42), or seed=null for no seeding")
    epochs = cfg.trainer.get("max_epochs")
    if cfg.get("train") and epochs is not None and not (is_whole(epochs) and epochs >= 1):
        raise ConfigError(
            f"trainer.max_epochs={epochs!r}: the epochs to train must be a positive whole number (the lr schedule "
            f"is fitted to them); to evaluate a checkpoint without training use train=false ckpt_path=..."
        )
