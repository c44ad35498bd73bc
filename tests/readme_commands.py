"""Runs the README's command lines in turn in this one process, each as ``python SCRIPT ARGS`` would run it.

    python tests/readme_commands.py SPEC.json

``SPEC.json`` holds ``{"cwd": FOLDER, "commands": {command: [script, *args]}}``; the commands run in that
order in FOLDER through the entry point the script itself calls, each with its output in a log file of its
own, and ``results.json`` beside the spec maps each command to ``{"error": null or what went wrong, "log":
its log file}``. Importing torch and Lightning once for all the commands, instead of once per command, is
what keeps the README's test fast.
"""

from __future__ import annotations

import json
import os
import sys
import traceback
from contextlib import contextmanager
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from fastlightning import export, generate, predict  # noqa: E402
from fastlightning.cli import entry  # noqa: E402

ENTRY_POINTS = {
    "train.py": lambda args: entry(),
    "generate.py": generate.main,
    "predict.py": predict.main,
    "export.py": export.main,
}


@contextmanager
def output_to(log: Path):
    """Everything written to stdout and stderr, by Python or by subprocesses, goes to ``log``."""
    sys.stdout.flush(), sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with open(log, "w") as handle:
        os.dup2(handle.fileno(), 1), os.dup2(handle.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush(), sys.stderr.flush()
            os.dup2(saved[0], 1), os.dup2(saved[1], 2)
            os.close(saved[0]), os.close(saved[1])


def run_command(script: str, args: list[str]) -> str | None:
    """What went wrong running ``python SCRIPT ARGS`` (None when it exits 0)."""
    sys.argv = [str(ROOT / script), *args]
    try:
        ENTRY_POINTS[script](args)
    except SystemExit as e:
        return None if e.code in (None, 0) else f"exit status {e.code}"
    except Exception:
        return traceback.format_exc()
    return None


def main(spec_path: str) -> None:
    spec = json.loads(Path(spec_path).read_text())
    os.chdir(spec["cwd"])
    logs = Path(spec_path).parent / "readme_logs"
    logs.mkdir(exist_ok=True)
    results = {}
    for i, (command, (script, *args)) in enumerate(spec["commands"].items()):
        log = logs / f"{i:02d}.log"
        with output_to(log):
            error = run_command(script, args)
        results[command] = {"error": error, "log": str(log)}
    (Path(spec_path).parent / "results.json").write_text(json.dumps(results, indent=2))


if __name__ == "__main__":
    main(sys.argv[1])
