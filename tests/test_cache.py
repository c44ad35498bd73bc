"""The prepared-data cache: keyed by inputs and settings, safe when several jobs prepare at once."""

from __future__ import annotations

import multiprocessing
import os
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
