"""The prepared-data cache: keyed by inputs and settings, safe when several jobs prepare at once."""

from __future__ import annotations

import multiprocessing
import os
import shutil
import time

import numpy as np
import pytest

from datamodules.cache import cached, file_fingerprint


def slow_build(marker_dir: str):
    def build():
        (open(os.path.join(marker_dir, f"built-{os.getpid()}"), "w")).close()
        time.sleep(0.5)
        return {"x": np.arange(1000)}, {"pid": os.getpid()}

    return build


def prepare(cache_dir: str, marker_dir: str) -> list[int]:
    arrays, _ = cached(cache_dir, "demo", {"a": 1}, slow_build(marker_dir))
    return arrays["x"].tolist()


def test_concurrent_jobs_build_once_and_read_the_same_entry(tmp_path):
    markers = tmp_path / "markers"
    markers.mkdir()
    with multiprocessing.get_context("fork").Pool(3) as pool:
        results = pool.starmap(prepare, [(str(tmp_path / "cache"), str(markers))] * 3)
    assert all(r == list(range(1000)) for r in results)
    assert len(list(markers.iterdir())) == 1
    entries = [p for p in (tmp_path / "cache" / "demo").iterdir() if p.is_dir()]
    assert len(entries) == 1 and not entries[0].name.startswith(".")


def test_changed_inputs_or_settings_make_a_new_entry(tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("a\n1\n")
    calls = []

    def build():
        calls.append(1)
        return {"n": np.array(len(calls))}, {}

    def get(**settings):
        return cached(tmp_path / "cache", "demo", {"input": file_fingerprint(data), **settings}, build)[0]["n"]

    assert get(k=1) == 1 and get(k=1) == 1
    assert get(k=2) == 2
    data.write_text("a\n1\n2\n")
    assert get(k=1) == 3


def test_a_failed_build_leaves_nothing_behind(tmp_path):
    def build():
        raise ValueError("bad input")

    with pytest.raises(ValueError, match="bad input"):
        cached(tmp_path / "cache", "demo", {}, build)
    assert not [p for p in (tmp_path / "cache" / "demo").iterdir() if p.is_dir()]


def test_an_edit_that_restores_the_modification_time_still_makes_a_new_entry(tmp_path):
    data = tmp_path / "data.csv"
    data.write_text("a\n1\n")
    stat = data.stat()
    first = file_fingerprint(data)
    data.write_text("a\n2\n")  # the same size
    os.utime(data, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert data.stat().st_mtime_ns == stat.st_mtime_ns and file_fingerprint(data) != first


def counting_build(calls: list):
    def build():
        calls.append(1)
        return {"x": np.arange(100) * len(calls)}, {"calls": len(calls)}

    return build


@pytest.mark.parametrize(
    "damage",
    [
        pytest.param(
            lambda entry: (entry / "arrays.npz").write_bytes((entry / "arrays.npz").read_bytes()[:50]),
            id="truncated arrays",
        ),
        pytest.param(lambda entry: (entry / "meta.json").unlink(), id="no metadata"),
        pytest.param(lambda entry: (entry / "meta.json").write_text('{"calls": '), id="half-written metadata"),
    ],
)
def test_a_damaged_entry_is_discarded_and_built_again(tmp_path, damage, caplog):
    calls = []
    cached(tmp_path / "cache", "demo", {"a": 1}, counting_build(calls))
    (entry,) = [p for p in (tmp_path / "cache" / "demo").iterdir() if p.is_dir()]
    damage(entry)
    arrays, meta = cached(tmp_path / "cache", "demo", {"a": 1}, counting_build(calls))
    assert len(calls) == 2 and meta == {"calls": 2} and arrays["x"].tolist() == list(range(0, 200, 2))
    assert "cannot be read (damaged or half-written); building it again" in caplog.text
    assert cached(tmp_path / "cache", "demo", {"a": 1}, counting_build(calls))[1] == {"calls": 2}


def test_a_killed_writers_temporary_folder_is_removed_by_the_next_build(tmp_path):
    calls = []
    cached(tmp_path / "cache", "demo", {"a": 1}, counting_build(calls))
    (entry,) = [p for p in (tmp_path / "cache" / "demo").iterdir() if p.is_dir()]
    leftover = entry.parent / f".{entry.name}-killed"
    leftover.mkdir()
    (leftover / "arrays.npz").write_bytes(b"half")
    shutil.rmtree(entry)  # the entry is built again, as after a killed first build
    cached(tmp_path / "cache", "demo", {"a": 1}, counting_build(calls))
    assert not leftover.exists() and len(calls) == 2
