"""The MNIST CNN's training step on this CPU: channels-last memory, ``torch.compile`` and bf16 autocast.

    python -m bench.cnn_step --steps 30

``task=mnist_cnn``'s net (``CNNModule`` defaults) on random 28x28 batches with AdamW: milliseconds per
step after 5 warm-up steps, and for ``torch.compile`` the seconds the first steps took (the compile).
A lever is worth a default only if its saving over a run's steps beats its fixed cost.
"""

from __future__ import annotations

import argparse
import time

import torch
import torch.nn.functional as F

from lightning_models import CNNModule


def step_time(steps: int, batch_size: int, channels_last: bool, compile: bool, bf16: bool) -> tuple[float, float]:
    """Milliseconds per step, and seconds of the 5 warm-up steps."""
    net = CNNModule(n_classes=10, channels=1, image_size=28, channels_last=channels_last).net
    forward = torch.compile(net) if compile else net
    opt = torch.optim.AdamW(net.parameters(), 1e-3)
    images, labels = torch.randn(batch_size, 1, 28, 28), torch.randint(0, 10, (batch_size,))
    if channels_last:
        images = images.contiguous(memory_format=torch.channels_last)
    start = time.perf_counter()
    for step in range(steps + 5):
        if step == 5:
            warm = time.perf_counter()
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
            loss = F.cross_entropy(forward(images).float(), labels)
        opt.zero_grad()
        loss.backward()
        opt.step()
    return (time.perf_counter() - warm) / steps * 1e3, warm - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--steps", type=int, default=30)
    parser.add_argument("--batch-size", type=int, default=128)
    args = parser.parse_args()
    variants = {
        "channels-last (the default)": {"channels_last": True, "compile": False, "bf16": False},
        "contiguous": {"channels_last": False, "compile": False, "bf16": False},
        "channels-last, bf16 autocast": {"channels_last": True, "compile": False, "bf16": True},
        "channels-last, torch.compile": {"channels_last": True, "compile": True, "bf16": False},
    }
    for name, variant in variants.items():
        ms, warm = step_time(args.steps, args.batch_size, **variant)
        print(f"{name:<30} {ms:7.1f} ms a step at batch {args.batch_size} (first 5 steps: {warm:.1f} s)")


if __name__ == "__main__":
    main()
