"""``python export.py RUN --format torchscript|onnx``: a finished run's model as one file, for use without Python
packages of this project (plain ``torch.jit.load``, or onnxruntime).

The file goes to ``RUN/export/`` with a copy of ``preprocessing.json``: the model takes the tensors
``preprocessing.encode`` makes (for a table: codes and continuous values; for ratings: user and movie
rows; for images: normalized pixels; for weekly series: the weeks) and returns what its
``predict_step`` returns, for any number of rows. Text models do not export: a language model generates
and the AWD-LSTM classifier reads a text in ``bptt`` chunks, loops that a traced graph would fix to one
length (the sentence LSTM's inputs need the text tokenizer anyway). An ONNX weekly-series model takes
the training file's number of weeks (the export fixes a recurrent net's steps); TorchScript takes any.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path

import torch
from torch import nn

from datamodules.files import DataError
from datamodules.preprocessing import PREPROCESSING_FILE
from fastlightning.predictor import Predictor, load_run
from lightning_models.checkpoints import CheckpointError

FORMATS = {"torchscript": "model.pt", "onnx": "model.onnx"}


class ExportError(DataError):
    """A run that cannot be exported in the format asked for; the message says why and what to use instead."""


class PredictStep(nn.Module):
    """The model's ``predict_step`` as a module of tensors in, a tensor out (what tracing needs)."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        self.model = model
        # what Lightning's own to_torchscript sets: the module's trainer property then does not raise
        model._jit_is_scripting = True

    def forward(self, *batch: torch.Tensor) -> torch.Tensor:
        return self.model.predict_step(batch, 0)


def input_names(n: int) -> list[str]:
    return [f"input{i}" for i in range(n)]


def write_model(
    step: PredictStep, example: tuple[torch.Tensor, ...], free_axes: list[tuple[int, ...]], fmt: str, path: Path
) -> None:
    """The traced (TorchScript) or exported (ONNX, the ``free_axes`` of any size) model at ``path``."""
    if fmt == "torchscript":
        with torch.no_grad():
            torch.jit.trace(step, example, check_trace=False).save(str(path))
        return
    try:
        import onnxscript  # noqa: F401 - torch's ONNX exporter needs it
    except ImportError:
        raise ExportError("--format onnx needs the onnx extra: pip install -e '.[onnx]'") from None
    dims = [torch.export.Dim(f"axis{axis}", min=1) for axis in range(max(map(max, free_axes)) + 1)]
    shapes = {"batch": tuple({axis: dims[axis] for axis in axes} for axes in free_axes)}
    torch.onnx.export(
        step, example, str(path), input_names=input_names(len(example)), output_names=["output"],
        dynamic_shapes=shapes, verbose=False, external_data=False,
    )  # fmt: skip


def export_run(run_dir: str | Path, fmt: str = "torchscript", checkpoint: str | Path | None = None) -> Path:
    """``RUN/export/model.pt`` (TorchScript) or ``model.onnx`` beside ``preprocessing.json``; the model file's path."""
    if fmt not in FORMATS:
        raise ExportError(f"unknown export format {fmt!r}: choose one of {', '.join(FORMATS)}")
    predictor: Predictor = load_run(run_dir, checkpoint)
    example = predictor.preprocessing.example()
    if example is None:
        raise ExportError(
            f"{run_dir}: a {type(predictor.model).__name__} reads text, which does not export here (only the table, "
            f"rating, image and weekly-series models do); use load_run, predict.py or serve.py with the run itself"
        )
    out = Path(run_dir) / "export"
    out.mkdir(exist_ok=True)
    path = out / FORMATS[fmt]
    fd, tmp = tempfile.mkstemp(dir=out, prefix=f".{path.name}.", suffix=path.suffix)
    os.close(fd)
    try:
        step = PredictStep(predictor.model).eval()
        write_model(step, example, predictor.preprocessing.free_axes(), fmt, Path(tmp))
        os.replace(tmp, path)
    finally:
        Path(tmp).unlink(missing_ok=True)
    shutil.copyfile(Path(run_dir) / PREPROCESSING_FILE, out / PREPROCESSING_FILE)
    return path


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Export a finished run's model (TorchScript or ONNX).")
    parser.add_argument("run_dir", type=Path, help="the run directory train.py printed")
    parser.add_argument("--format", choices=sorted(FORMATS), default="torchscript")
    parser.add_argument("--checkpoint", type=Path, default=None, help="default: RUN_DIR/checkpoints/last.ckpt")
    args = parser.parse_args(argv)
    try:
        path = export_run(args.run_dir, args.format, args.checkpoint)
    except (DataError, CheckpointError) as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(1) from None
    print(f"model written to {path} (inputs: preprocessing.encode's tensors; see {path.parent / PREPROCESSING_FILE})")
