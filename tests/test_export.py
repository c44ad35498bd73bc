"""export.py: the TorchScript and ONNX files give the LightningModule's outputs on the same batch."""

from __future__ import annotations

import json

import numpy as np
import onnxruntime
import pandas as pd
import pytest
import torch
from PIL import Image

from datamodules import MNISTDataModule, WeeklySalesDataModule
from datamodules.tabular import TabularDataModule
from fastlightning import load_run
from fastlightning.export import ExportError, export_run
from fastlightning.export import main as export_main

FEW_BATCHES = ["trainer.max_epochs=1", "trainer.limit_train_batches=5"]


def raw_inputs(task: str, cache_dir, known: object) -> object:
    """Five real inputs of each task, as a user would pass them to load_run(...).predict."""
    if task == "tabular_clas":
        return pd.read_csv(TabularDataModule(cache_dir=str(cache_dir)).predict_path).head(5)
    if task == "movielens":
        return list(zip(known.user_ids[:5], known.item_ids[:5], strict=True))
    if task == "weekly_sales":
        return pd.read_csv(WeeklySalesDataModule(cache_dir=str(cache_dir)).csv_path).head(5)
    digits = MNISTDataModule(cache_dir=str(cache_dir))
    digits.setup("fit")
    return [Image.fromarray(digits.splits["test"][0][i, 0].numpy()) for i in range(5)]


@pytest.mark.parametrize(
    ("task", "formats"),
    [
        ("tabular_clas", ("torchscript", "onnx")),
        ("movielens", ("torchscript",)),
        ("weekly_sales", ("torchscript",)),
        ("mnist_cnn", ("torchscript",)),
    ],
)
def test_exported_models_equal_the_lightning_module(run_task, tmp_path, cache_dir, task, formats):
    run_dir = tmp_path / "run"
    run_task(task, *FEW_BATCHES, run_dir=run_dir)
    predictor = load_run(run_dir)
    batch = predictor.preprocessing.encode(
        predictor.preprocessing.rows(raw_inputs(task, cache_dir, predictor.preprocessing))
    )
    want = predictor.step(batch, 0)
    for fmt in formats:
        path = export_run(run_dir, fmt)
        if fmt == "torchscript":
            got = torch.jit.load(str(path))(*batch)
        else:
            session = onnxruntime.InferenceSession(str(path))
            got = torch.from_numpy(session.run(None, {f"input{i}": t.numpy() for i, t in enumerate(batch)})[0])
        torch.testing.assert_close(got, want, rtol=1e-4, atol=1e-5)
    exported = json.loads((run_dir / "export" / "preprocessing.json").read_text())
    assert exported == json.loads((run_dir / "preprocessing.json").read_text())
    assert sorted(p.name for p in (run_dir / "export").iterdir()) == sorted(
        [
            "preprocessing.json",
            *(("model.pt",) if "torchscript" in formats else ()),
            *(("model.onnx",) if "onnx" in formats else ()),
        ]
    )  # nothing half-written left beside them


def test_a_text_model_is_refused_with_what_to_use_instead(run_task, tmp_path, capsys):
    run_task("sentences", "trainer.max_epochs=1", "trainer.limit_train_batches=1", run_dir=tmp_path / "run")
    with pytest.raises(
        ExportError, match="reads text, which does not export here.*use load_run, predict.py or serve.py"
    ):
        export_run(tmp_path / "run")
    with pytest.raises(ExportError, match="unknown export format 'pickle'"):
        export_run(tmp_path / "run", "pickle")
    with pytest.raises(SystemExit):
        export_main([str(tmp_path / "nowhere")])
    assert "is not a run directory" in capsys.readouterr().err
    assert not (tmp_path / "run" / "export").exists() or not any((tmp_path / "run" / "export").iterdir())
    np.testing.assert_array_equal(load_run(tmp_path / "run").predict(["great phone"])["prob_0"] >= 0, [True])
