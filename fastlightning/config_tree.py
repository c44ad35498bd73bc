"""The composed config as a tree, printed at the start of a run (``print_config=false`` turns it off)."""

from __future__ import annotations

from omegaconf import Container, DictConfig, OmegaConf
from rich.console import Console
from rich.syntax import Syntax
from rich.tree import Tree

FIRST = ("task_name", "tags", "data", "model", "callbacks", "trainer", "logger", "paths")


def config_tree(cfg: DictConfig) -> Tree:
    """One branch per top-level key, the groups a run is made of first, each as resolved YAML."""
    tree = Tree("config", guide_style="dim")
    keys = [k for k in FIRST if k in cfg] + [k for k in cfg if k not in FIRST]
    for key in keys:
        value = cfg[key]
        text = OmegaConf.to_yaml(value, resolve=True) if isinstance(value, Container) else str(value)
        tree.add(f"[bold]{key}[/bold]").add(
            Syntax(text.rstrip(), "yaml", theme="ansi_dark", background_color="default")
        )
    return tree


def print_config_tree(cfg: DictConfig) -> None:
    Console(soft_wrap=True).print(config_tree(cfg))
