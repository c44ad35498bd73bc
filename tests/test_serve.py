"""serve.py: a real server on a free localhost port answers real HTTP requests, good and bad."""

from __future__ import annotations

import base64
import io
import json
import socket
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import pytest
import torch
import uvicorn
from PIL import Image

from datamodules.preprocessing import ImagePreprocessing
from fastlightning import load_run
from fastlightning.predictor import Predictor
from fastlightning.serve import create_app


@contextmanager
def serving(predictor: Predictor, **limits: int) -> Iterator[str]:
    """The app on a free port of 127.0.0.1 in a thread, for as long as the block runs; its base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    server = uvicorn.Server(uvicorn.Config(create_app(predictor, **limits), port=port, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert time.monotonic() < deadline and thread.is_alive(), "the server did not start"
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


def request(url: str, body: bytes | None = None) -> tuple[int, dict]:
    """(status, JSON answer) of a GET, or of a POST of ``body``."""
    req = urllib.request.Request(url, data=body, headers={"Content-Type": "application/json"})
    try:
        with urllib.request.urlopen(req, timeout=20) as answer:
            return answer.status, json.loads(answer.read())
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read())


def post(url: str, payload: object) -> tuple[int, dict]:
    return request(f"{url}/predict", json.dumps(payload).encode())


def test_ratings_served_as_the_run_predicts_them_and_bad_requests_refused(run_task, tmp_path):
    run_task("movielens", "trainer.max_epochs=1", "trainer.limit_train_batches=5", run_dir=tmp_path / "run")
    predictor = load_run(tmp_path / "run")
    users, items = predictor.preprocessing.user_ids, predictor.preprocessing.item_ids
    pairs = [[users[0], items[1]], [users[1], items[0]], [users[2], items[2]]]
    expected = predictor.predict(pairs)["prediction"].tolist()
    with serving(predictor, max_items=5, max_body_bytes=2000) as url:
        assert request(f"{url}/health") == (200, {"status": "ok", "model": "CollabModule", "inputs": "ratings"})
        status, answer = post(url, {"inputs": pairs})
        assert status == 200 and [p["prediction"] for p in answer["predictions"]] == pytest.approx(expected, rel=1e-6)
        assert answer["predictions"][0]["userId"] == users[0] and "title" in answer["predictions"][0]
        records = [{"userId": u, "movieId": m} for u, m in pairs]
        assert post(url, {"inputs": records})[1] == answer  # the same as records
        status, answer = request(f"{url}/predict", b'{"inputs": [[1, 2]')
        assert status == 400 and "not valid JSON" in answer["error"]
        assert post(url, {"rows": pairs}) == (422, {"error": 'the body must be a JSON object {"inputs": [...]}'})
        assert post(url, {"inputs": []})[0] == 422
        status, answer = post(url, {"inputs": [[users[0], 999999]]})
        assert (
            status == 422 and "movieId value(s) never seen in the training ratings (row 0: 999999)" in answer["error"]
        )
        status, answer = post(url, {"inputs": [{"userId": users[0]}]})
        assert status == 422 and "no column 'movieId'" in answer["error"]
        status, answer = post(url, {"inputs": pairs * 2})
        assert status == 413 and "6 inputs in one request; at most 5" in answer["error"]
        status, answer = request(f"{url}/predict", b" " * 3000)
        assert status == 413 and "at most 2000" in answer["error"]
        assert post(url, {"inputs": pairs})[0] == 200  # still serving after the bad requests


@dataclass
class MeanPixelModel:
    """A stand-in image classifier: (dark, bright) from the mean normalized pixel."""

    device: torch.device = torch.device("cpu")

    def predict_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> torch.Tensor:
        bright = batch[0].mean((1, 2, 3)).sigmoid()
        return torch.stack([1 - bright, bright], 1).log()


def png_base64(level: int) -> str:
    buffer = io.BytesIO()
    Image.new("RGB", (20, 20), (level, level, level)).save(buffer, format="PNG")
    return base64.b64encode(buffer.getvalue()).decode()


def test_images_served_from_base64_and_a_bad_image_named():
    preprocessing = ImagePreprocessing(["dark", "bright"], [0.5] * 3, [0.25] * 3, 3, 8)
    predictor = Predictor(MeanPixelModel(), preprocessing, config=None)
    with serving(predictor) as url:
        status, answer = post(url, {"inputs": [png_base64(10), png_base64(240)]})
        assert status == 200 and [p["prediction"] for p in answer["predictions"]] == ["dark", "bright"]
        status, answer = post(url, {"inputs": [png_base64(10), "not base64!"]})
        assert status == 422 and answer["error"] == "input 1 is not a base64 string of an image file"
        status, answer = post(url, {"inputs": [base64.b64encode(b"not an image").decode()]})
        assert status == 422 and "cannot be read as an image" in answer["error"]
