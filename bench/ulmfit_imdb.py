"""ULMFiT's reduced recipe on this CPU: does language-model pretraining help the IMDB classifier?

    python -m bench.ulmfit_imdb [--data-dir /work/shared/data/imdb] [--lm-docs 6000] [--train-docs 2000]
    python -m bench.ulmfit_imdb --lm-from OUT/lm --seed 1 --out OUT2 ...   # go on training that LM
    python -m bench.ulmfit_imdb --out OUT2 --reuse-lm --ulmfit-lr 0.1 ...  # classifiers only

1. ``task=imdb_lm`` on ``--lm-docs`` reviews drawn (seeded by ``--seed``) from all 100,000 texts
   (train + unsup + test, as the lesson), a small AWD-LSTM, ``--lm-epochs`` epochs: writes encoder.pt
   and vocab.json. With ``--lm-from`` it starts from that LM run's encoder, remapped onto its own vocabulary.
2. ``task=imdb_clas`` on ``--train-docs`` labelled training reviews, evaluated on a fixed random
   ``--test-docs`` subsample of the test reviews, with the LM's vocabulary both times:
   ULMFiT: from the LM's encoder with the ULMFiT stages (gradual unfreezing, discriminative lrs), of
   ``--stage-epochs`` epochs each, the first at ``--ulmfit-lr``;
   pretrained, one cycle: from the LM's encoder, every layer trained with one cycle for as many epochs;
   scratch: the same network from random weights with that same one-cycle recipe (the fair scratch
   recipe: a frozen random encoder would learn nothing).
Prints the test accuracy and the time of each; pretraining helps when both pretrained runs beat scratch.
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import fastlightning
from bench.tokenize_imdb import find_tree


def run(task: str, out: Path, cache: Path, overrides: list[str]) -> tuple[dict, float]:
    """``python train.py task=<task> <overrides>`` writing into ``out``; (metrics, seconds)."""
    overrides = ["trainer.enable_progress_bar=false", *overrides]
    cfg = fastlightning.compose_task(task, overrides, run_dir=out, cache_dir=cache)
    start = time.perf_counter()
    metrics = fastlightning.run(cfg)
    return metrics, time.perf_counter() - start


def train_lm(args: argparse.Namespace, lm_dir: Path, cache: Path, common: list[str]) -> dict:
    """``task=imdb_lm`` into ``lm_dir``; what the results record of it."""
    lm_options = [f"data.max_docs={args.lm_docs}", f"trainer.max_epochs={args.lm_epochs}", "model.lr=1e-2"]
    if args.lm_from is not None:
        lm_options += [
            f"model.encoder_path={args.lm_from / 'encoder.pt'}",
            f"model.encoder_vocab_path={args.lm_from / 'vocab.json'}",
        ]
    lm, seconds = run("imdb_lm", lm_dir, cache, [*common, *lm_options, f"seed={args.seed}"])
    print(
        f"language model: {args.lm_docs} reviews, {args.lm_epochs} epochs"
        f"{f', continued from {args.lm_from}' if args.lm_from else ''}: val/ppl {lm['val/ppl']:.1f}, {seconds:.0f} s",
        flush=True,
    )
    return {"docs": args.lm_docs, "epochs": args.lm_epochs, "val_ppl": lm["val/ppl"], "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(
        prog="python -m bench.ulmfit_imdb", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=Path("/work/shared/data/imdb"))
    parser.add_argument("--unpack-dir", type=Path, default=Path("/work/data"))
    parser.add_argument("--out", type=Path, default=Path("/work/data/bench_ulmfit"))
    parser.add_argument("--lm-docs", type=int, default=6000)
    parser.add_argument("--lm-epochs", type=int, default=2)
    parser.add_argument("--lm-from", type=Path, default=None, help="an earlier LM run directory to start from")
    parser.add_argument("--reuse-lm", action="store_true", help="classifiers only, from the LM already in OUT/lm")
    parser.add_argument("--seed", type=int, default=42, help="which reviews the LM draws")
    parser.add_argument("--cache", type=Path, default=None, help="the token cache (default: OUT/cache)")
    parser.add_argument("--train-docs", type=int, default=2000)
    parser.add_argument("--test-docs", type=int, default=2000)
    parser.add_argument("--stage-epochs", default="1,1,1,2", help="classifier: epochs of the four ULMFiT stages")
    parser.add_argument("--ulmfit-lr", type=float, default=2e-2, help="classifier: the first ULMFiT stage's peak lr")
    parser.add_argument("--max-len", type=int, default=300, help="classifier: keep the last N tokens of a review")
    parser.add_argument("--max-vocab", type=int, default=8000)
    parser.add_argument("--emb-sz", type=int, default=64)
    parser.add_argument("--n-hid", type=int, default=256)
    parser.add_argument("--n-layers", type=int, default=2)
    args = parser.parse_args()

    tree = find_tree(args.data_dir, args.unpack_dir)
    cache = args.cache or args.out / "cache"
    stage_epochs = [int(n) for n in args.stage_epochs.split(",")]
    sizes = [f"model.emb_sz={args.emb_sz}", f"model.n_hid={args.n_hid}", f"model.n_layers={args.n_layers}"]
    data = [f"data.data_dir={tree.parent}", f"data.max_vocab={args.max_vocab}"]
    lm_dir = args.out / "lm"
    if args.reuse_lm:
        lm_record = json.loads((args.out / "results.json").read_text())["lm"]
        print(f"language model: reusing {lm_dir}: val/ppl {lm_record['val_ppl']:.1f}, {lm_record['seconds']:.0f} s")
    else:
        lm_record = train_lm(args, lm_dir, cache, [*sizes, *data])
    clas = [
        *sizes,
        *data,
        f"data.vocab_path={lm_dir / 'vocab.json'}",
        f"data.max_train_docs={args.train_docs}",
        f"data.max_test_docs={args.test_docs}",
        f"data.max_len={args.max_len}",
        "data.batch_size=32",
    ]
    encoder = f"model.encoder_path={lm_dir / 'encoder.pt'}"
    one_cycle = [
        "~callbacks/finetuning",
        "callbacks/schedule=one_cycle",
        f"trainer.max_epochs={sum(stage_epochs)}",
        "model.lr=1e-2",
    ]
    stages = [f"callbacks.finetuning.stages.{i}.epochs={n}" for i, n in enumerate(stage_epochs)]
    runs = {
        "ULMFiT stages, pretrained": [encoder, *stages, f"model.lr={args.ulmfit_lr}"],
        "one cycle, pretrained": [encoder, *one_cycle],
        "one cycle, from scratch": one_cycle,
    }
    results = {"lm": lm_record}
    for name, overrides in runs.items():
        metrics, seconds = run(
            "imdb_clas", args.out / name.replace(", ", "-").replace(" ", "_"), cache, [*clas, *overrides]
        )
        results[name] = {"test_acc": metrics["test/acc"], "seconds": seconds}
    (args.out / "results.json").write_text(json.dumps(results, indent=2))
    print()
    print(f"classifier on {args.train_docs} labelled reviews, tested on {args.test_docs} test reviews:")
    for name in runs:
        print(f"  {name:28s} test accuracy {results[name]['test_acc']:.4f}  ({results[name]['seconds']:.0f} s)")
    print(f"  (pretrained runs also need the language model's {lm_record['seconds']:.0f} s)")
    scratch = results["one cycle, from scratch"]["test_acc"]
    helps = all(results[name]["test_acc"] > scratch for name in runs if name.endswith("pretrained"))
    print(f"  pretraining helps: {helps}")


if __name__ == "__main__":
    main()
