"""The docs stay true: every bad_inputs.md row names a test that exists; adding_a_task.md's example composes."""

from __future__ import annotations

import ast
import inspect
import re
from pathlib import Path

import yaml

from datamodules import TabularDataModule

ROOT = Path(__file__).resolve().parents[1]
ROW_TEST = re.compile(r"`(test_\w+\.py)::(test_\w+)(?:\[([^\]]+)\])?`")


def catalogue_rows() -> list[tuple[str, str, str | None]]:
    rows = []
    for line in (ROOT / "docs" / "bad_inputs.md").read_text().splitlines():
        if line.startswith("| ") and not line.startswith("| bad input"):
            match = ROW_TEST.search(line)
            assert match, f"row without a test: {line}"
            rows.append(match.groups())
    return rows


def test_every_catalogued_bad_input_is_backed_by_a_test():
    rows = catalogue_rows()
    assert len(set(rows)) == len(rows), "a test is listed twice"
    for file, function, param_id in rows:
        source = (ROOT / "tests" / file).read_text()
        functions = {node.name for node in ast.walk(ast.parse(source)) if isinstance(node, ast.FunctionDef)}
        assert function in functions, f"{file}::{function} does not exist"
        if param_id is not None:
            assert f'"{param_id}"' in source, f"{file}::{function} has no parameter id {param_id!r}"


def test_the_example_task_of_adding_a_task_composes(tmp_path):
    """docs/adding_a_task.md's config is a valid task: its groups exist and its data keys are arguments."""
    text = (ROOT / "docs" / "adding_a_task.md").read_text()
    example = yaml.safe_load(re.search(r"```yaml\n(.*?)```", text, re.S).group(1))
    for override in example["defaults"]:
        group, name = next(iter(override.items()))
        assert (ROOT / "conf" / group.split()[-1].strip("/") / f"{name}.yaml").is_file(), override
    arguments = inspect.signature(TabularDataModule).parameters
    assert set(example["data"]) <= set(arguments)
