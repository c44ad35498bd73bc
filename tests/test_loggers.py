"""logger=mlflow|wandb|many: each run leaves a record that the logging library's own reader opens, holding
the run's metrics as metrics.csv has them."""

from __future__ import annotations

import struct
from pathlib import Path

import mlflow
import pandas as pd
import pytest
from wandb.proto import wandb_internal_pb2 as wandb_pb

TABULAR = ["trainer.max_epochs=2", "tags=[baseline,v2]"]


def validation_rmse(run_dir: Path) -> list[float]:
    """val/rmse of each epoch, as metrics.csv holds it."""
    return pd.read_csv(run_dir / "metrics.csv")["val/rmse"].dropna().tolist()


def only_run(tracking_uri: str, experiment: str) -> mlflow.entities.Run:
    client = mlflow.MlflowClient(tracking_uri)
    runs = client.search_runs([client.get_experiment_by_name(experiment).experiment_id])
    assert len(runs) == 1
    return runs[0]


def check_mlflow_run(tracking_uri: str, run_dir: Path) -> None:
    run = only_run(tracking_uri, "tabular")
    assert run.info.run_name == run_dir.name and run.info.status == "FINISHED"
    history = mlflow.MlflowClient(tracking_uri).get_metric_history(run.info.run_id, "val/rmse")
    assert [m.value for m in sorted(history, key=lambda m: m.step)] == pytest.approx(validation_rmse(run_dir))
    assert run.data.params["tags"] == "['baseline', 'v2']"
    assert run.data.params["layers"] == "[1000, 500]"


def test_mlflow_logs_into_a_local_database(tmp_path: Path, run_task) -> None:
    run_dir = tmp_path / "run"
    run_task("tabular", *TABULAR, "logger=mlflow")
    check_mlflow_run(f"sqlite:///{tmp_path}/logs/mlflow.db", run_dir)


def test_mlflow_file_store_when_opted_in(tmp_path: Path, run_task, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MLFLOW_ALLOW_FILE_STORE", "true")
    uri = f"file:{tmp_path}/mlruns"
    run_task("tabular", *TABULAR, "logger=mlflow", f"logger.mlflow.tracking_uri={uri}")
    check_mlflow_run(uri, tmp_path / "run")


def test_many_logs_to_csv_tensorboard_and_mlflow(tmp_path: Path, run_task) -> None:
    run_dir = tmp_path / "run"
    run_task("tabular", *TABULAR, "logger=many")
    assert len(validation_rmse(run_dir)) == 2
    assert list((run_dir / "tensorboard").glob("events.out.tfevents.*"))
    check_mlflow_run(f"sqlite:///{tmp_path}/logs/mlflow.db", run_dir)


def wandb_records(path: Path) -> list:
    """The records of a W&B run file: W&B's protobuf messages in LevelDB's log framing (32 KiB blocks of
    chunks, each with a 7-byte header: crc, length, type 1 full / 2 first / 3 middle / 4 last), after W&B's
    own 7-byte file header."""
    data, block, pos = path.read_bytes(), 32768, 7
    assert data.startswith(b":W&B")
    records, pending = [], b""
    while pos + 7 <= len(data):
        if block - pos % block < 7:
            pos += block - pos % block
            continue
        _, length, kind = struct.unpack("<IHB", data[pos : pos + 7])
        pending += data[pos + 7 : pos + 7 + length]
        pos += 7 + length
        if kind in (1, 4):
            record = wandb_pb.Record()
            record.ParseFromString(pending)
            records.append(record)
            pending = b""
    return records


@pytest.mark.slow
def test_wandb_writes_an_offline_run(tmp_path: Path, run_task) -> None:
    run_dir = tmp_path / "run"
    run_task("tabular", *TABULAR, "logger=wandb")
    (run_file,) = run_dir.glob("wandb/offline-run-*/run-*.wandb")
    records = wandb_records(run_file)
    (run,) = [r.run for r in records if r.HasField("run")]
    assert run.display_name == "run" and run.project == "fastlightning" and run.run_group == "tabular"
    assert list(run.tags) == ["baseline", "v2"]
    logged = [
        {item.key or "/".join(item.nested_key): item.value_json for item in r.history.item}
        for r in records
        if r.HasField("history")
    ]
    rmse = [float(step["val/rmse"]) for step in logged if "val/rmse" in step]
    assert rmse == pytest.approx(validation_rmse(run_dir))
    (end,) = [r.exit for r in records if r.HasField("exit")]
    assert end.exit_code == 0
    # the next run in the same process (a sweep's) gets a run of its own
    run_task("tabular", "trainer.max_epochs=1", "logger=wandb", run_dir=tmp_path / "next")
    assert len(list((tmp_path / "next").glob("wandb/offline-run-*/run-*.wandb"))) == 1
