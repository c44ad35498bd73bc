"""Every random generator training draws from, as plain tensors and numbers a checkpoint can hold.

Dropout masks, augmentations and samplers without a generator of their own draw from torch's global
generator (and CUDA's); numpy's and Python's global generators are saved too, so that code drawing
from them resumes exactly. The state loads with ``torch.load(weights_only=True)``.
"""

from __future__ import annotations

import random
from typing import Any

import numpy as np
import torch
import torch.distributed as dist


def rng_state() -> dict[str, Any]:
    """This process's generators' state."""
    kind, keys, pos, has_gauss, cached = np.random.get_state()
    version, internal, gauss_next = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_initialized() else [],
        "numpy": [kind, torch.from_numpy(keys.astype(np.int64)), int(pos), int(has_gauss), float(cached)],
        "python": [version, list(internal), gauss_next],
    }


def set_rng_state(state: dict[str, Any]) -> None:
    """Put this process's generators where ``rng_state()`` found them."""
    torch.set_rng_state(state["torch"])
    if state["cuda"] and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
    kind, keys, pos, has_gauss, cached = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), pos, has_gauss, cached))
    version, internal, gauss_next = state["python"]
    random.setstate((version, tuple(internal), gauss_next))


def rng_states_of_all_ranks() -> list[dict[str, Any]]:
    """Each rank's ``rng_state()``, in rank order (a collective under DDP: every rank must call it)."""
    state = rng_state()
    if not (dist.is_available() and dist.is_initialized()) or dist.get_world_size() == 1:
        return [state]
    states: list[Any] = [None] * dist.get_world_size()
    dist.all_gather_object(states, state)
    return states


def restore_rank_rng_state(states: list[dict[str, Any]], rank: int, world_size: int) -> bool:
    """Restore this rank's generators from ``states``, saved by as many ranks as there are now."""
    if len(states) != world_size:
        return False
    set_rng_state(states[rank])
    return True
