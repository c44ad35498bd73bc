"""``python predict.py RUN INPUT [--out FILE]``: a finished run's predictions for new inputs, as CSV.

INPUT is what the task reads: a CSV of rows (tabular, Rossmann's feature rows, MovieLens ``userId,movieId``
pairs, weekly series ``W0..``), a text file with one text (or prompt) per line, or an image file or a
folder of images. Without ``--out`` the table is printed.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from datamodules.files import DataError, read_csv, require_file
from datamodules.preprocessing import ImagePreprocessing, Preprocessing, PromptPreprocessing, TextPreprocessing
from fastlightning.predictor import load_run
from lightning_models.checkpoints import CheckpointError


def read_inputs(path: Path, preprocessing: Preprocessing) -> Any:
    """The file's inputs in the form the run's preprocessing takes."""
    if isinstance(preprocessing, ImagePreprocessing):
        return str(path) if path.is_dir() else [str(require_file(path, "INPUT"))]
    path = require_file(path, "INPUT")
    if isinstance(preprocessing, (TextPreprocessing, PromptPreprocessing)):
        if path.suffix.lower() == ".csv":
            return read_csv(path, required=["text"], what="INPUT")["text"].astype(str).tolist()
        return [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return read_csv(path, what="INPUT")


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(
        description="Predict with a finished run (see `python train.py ... predict=true`)."
    )
    parser.add_argument("run_dir", type=Path, help="the run directory train.py printed")
    parser.add_argument(
        "input", type=Path, help="a CSV, a text file (one text per line), an image or a folder of images"
    )
    parser.add_argument("--out", type=Path, default=None, help="write the predictions here as CSV (default: print)")
    parser.add_argument("--checkpoint", type=Path, default=None, help="default: RUN_DIR/checkpoints/last.ckpt")
    parser.add_argument("--batch-size", type=int, default=256)
    args = parser.parse_args(argv)
    try:
        predictor = load_run(args.run_dir, args.checkpoint)
        frame = predictor.predict(read_inputs(args.input, predictor.preprocessing), batch_size=args.batch_size)
    except (DataError, CheckpointError) as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(1) from None
    if args.out is None:
        frame.to_csv(sys.stdout, index=False)
    else:
        frame.to_csv(args.out, index=False)
        print(f"{len(frame)} predictions written to {args.out}")
