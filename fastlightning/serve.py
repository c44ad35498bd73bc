"""``python serve.py RUN --host 127.0.0.1 --port 8000``: a finished run's model behind a small HTTP API.

``GET /health`` says the model is loaded (and which); ``POST /predict`` takes ``{"inputs": [...]}`` with
what ``load_run(RUN).predict`` takes, in JSON: records (``{"column": value}``) for a table or weekly
series, ``[userId, movieId]`` pairs (or records) for ratings, strings for texts and prompts, base64
strings of image files for images. It answers ``{"predictions": [{...}, ...]}``, one record per input.
A body that is not JSON is a 400; inputs the model cannot take a 422 that names the item and the
problem; a body over ``max_body_bytes`` or more than ``max_items`` inputs a 413. The model is loaded
once, when the server starts. Needs the ``serve`` extra (``pip install -e '.[serve]'``).
"""

# no ``from __future__ import annotations``: FastAPI reads the endpoints' annotations (``Request``) as objects
import argparse
import base64
import binascii
import json
import sys
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from datamodules.files import DataError
from datamodules.preprocessing import ImagePreprocessing, InputError
from fastlightning.predictor import Predictor, load_run
from lightning_models.checkpoints import CheckpointError

MAX_BODY_BYTES = 10 * 2**20
MAX_ITEMS = 1000


def decoded_inputs(payload: Any, predictor: Predictor, max_items: int) -> list:
    """The request's ``inputs`` as ``predict`` takes them (images from base64); an InputError says what is wrong."""
    if not isinstance(payload, dict) or "inputs" not in payload:
        raise InputError('the body must be a JSON object {"inputs": [...]}')
    inputs = payload["inputs"]
    if not isinstance(inputs, list) or not inputs:
        raise InputError('"inputs" must be a non-empty list')
    if len(inputs) > max_items:
        raise OverflowError(f"{len(inputs)} inputs in one request; at most {max_items}")
    if isinstance(predictor.preprocessing, ImagePreprocessing):
        images = []
        for i, item in enumerate(inputs):
            try:
                images.append(base64.b64decode(item, validate=True))
            except (TypeError, ValueError, binascii.Error):
                raise InputError(f"input {i} is not a base64 string of an image file") from None
        return images
    return inputs


def create_app(predictor: Predictor, max_body_bytes: int = MAX_BODY_BYTES, max_items: int = MAX_ITEMS):
    """The FastAPI application serving ``predictor``."""
    from fastapi import FastAPI, Request
    from fastapi.responses import JSONResponse

    app = FastAPI(title="fastlightning", description="Predictions of one trained run")
    lock = threading.Lock()  # one prediction at a time: the model's modules are not shared between threads
    about = {"model": type(predictor.model).__name__, "inputs": predictor.preprocessing.kind}

    def error(status: int, message: str) -> JSONResponse:
        return JSONResponse({"error": message}, status_code=status)

    @app.get("/health")
    def health() -> dict:
        return {"status": "ok", **about}

    @app.post("/predict")
    async def predict(request: Request) -> JSONResponse:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isdigit() and int(declared) > max_body_bytes:
            return error(413, f"the body is {declared} bytes; at most {max_body_bytes}")
        body = await request.body()
        if len(body) > max_body_bytes:
            return error(413, f"the body is {len(body)} bytes; at most {max_body_bytes}")
        try:
            payload = json.loads(body)
        except (UnicodeDecodeError, json.JSONDecodeError) as e:
            return error(400, f"the body is not valid JSON: {e}")
        try:
            inputs = decoded_inputs(payload, predictor, max_items)
            with lock:
                frame = predictor.predict(inputs)
        except OverflowError as e:
            return error(413, str(e))
        except DataError as e:
            return error(422, str(e))
        return JSONResponse({"predictions": json.loads(frame.to_json(orient="records"))})

    return app


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Serve a finished run's predictions over HTTP.")
    parser.add_argument("run_dir", type=Path, help="the run directory train.py printed")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8000)
    parser.add_argument("--checkpoint", type=Path, default=None, help="default: RUN_DIR/checkpoints/last.ckpt")
    parser.add_argument("--max-items", type=int, default=MAX_ITEMS, help="inputs per request")
    parser.add_argument("--max-body-bytes", type=int, default=MAX_BODY_BYTES)
    args = parser.parse_args(argv)
    try:
        import uvicorn
    except ImportError:
        parser.error("serving needs the serve extra: pip install -e '.[serve]'")
    try:
        predictor = load_run(args.run_dir, args.checkpoint)
    except (DataError, CheckpointError) as e:
        print(f"error: {e}", file=sys.stderr)
        raise SystemExit(1) from None
    uvicorn.run(create_app(predictor, args.max_body_bytes, args.max_items), host=args.host, port=args.port)
