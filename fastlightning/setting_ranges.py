"""Each numeric setting of the data and the model checked against its range, by the setting's name.

A rule per name rather than per constructor: every task that has a ``batch_size`` or a dropout gets the
same check, and so does a task added later. Without it a negative learning rate trains without a word,
and a zero-width embedding or a batch of none fails deep in a library with nothing that names the key.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator

from omegaconf import DictConfig, ListConfig, OmegaConf

from fastlightning.config import ConfigError


def is_number(value: object) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value)


def whole_at_least(low: int) -> tuple[Callable[[object], bool], str]:
    return (lambda v: isinstance(v, int) and not isinstance(v, bool) and v >= low), f"a whole number, {low} or more"


POSITIVE = (lambda v: is_number(v) and v > 0), "a number above 0"
NOT_NEGATIVE = (lambda v: is_number(v) and v >= 0), "a number, 0 or more"
PROBABILITY = (lambda v: is_number(v) and 0 <= v < 1), "a probability, at least 0 and below 1"
COUNT = whole_at_least(1)

# the last part of a setting's key -> what its values (each item, for a list) must be
RANGES: dict[str, tuple[Callable[[object], bool], str]] = {
    **dict.fromkeys(["batch_size", "bptt", "steps_per_epoch", "max_vocab", "min_freq", "max_seq", "max_rows"], COUNT),
    **dict.fromkeys(["n_factors", "n_hidden", "n_hid", "n_layers", "emb_sz", "image_size"], COUNT),
    **dict.fromkeys(["layers", "widths", "lin_ftrs", "xtra_fc"], COUNT),
    **dict.fromkeys(["num_workers", "n_workers", "pad", "depth"], whole_at_least(0)),
    **dict.fromkeys(["lr", "lrs", "max_lr", "lr_div", "eps"], POSITIVE),
    **dict.fromkeys(["weight_decay", "drop_mult", "alpha", "beta"], NOT_NEGATIVE),
    **dict.fromkeys(["momentum", "betas", "p", "ps", "wdrop"], PROBABILITY),
    **dict.fromkeys(
        ["dropout", "dropoute", "dropouth", "dropouti", "emb_drop", "emb_dropout", "hidden_dropout"], PROBABILITY
    ),
}


def is_range(value: object) -> bool:
    return isinstance(value, list) and len(value) == 2 and all(map(is_number, value)) and value[0] < value[1]


# settings checked as a whole, not item by item
WHOLE_RANGES: dict[str, tuple[Callable[[object], bool], str]] = {
    "y_range": (
        (lambda v: v == "auto" or is_range(v) or (isinstance(v, list) and bool(v) and all(map(is_range, v)))),
        "[low, high] with low below high, or one such pair per target (or null, or auto where taken)",
    ),
}


def settings(node: DictConfig, prefix: str) -> Iterator[tuple[str, str, object]]:
    """(full key, last part of the key, value) of every setting under ``node``."""
    for key, value in node.items():
        full = f"{prefix}.{key}"
        if isinstance(value, DictConfig):
            yield from settings(value, full)
        else:
            yield full, str(key), OmegaConf.to_container(value) if isinstance(value, ListConfig) else value


def check_setting_ranges(cfg: DictConfig) -> None:
    """A ConfigError naming the first data or model setting outside its range (None means the default)."""
    for group in ("data", "model"):
        for key, name, value in settings(cfg.get(group) or DictConfig({}), group):
            if value is None:
                continue
            if name in WHOLE_RANGES:
                ok, expected = WHOLE_RANGES[name]
                if not ok(value):
                    raise ConfigError(f"{key}={value!r}: it must be {expected}")
                continue
            rule = RANGES.get(name)
            if rule is None:
                continue
            ok, expected = rule
            values = value if isinstance(value, list) else [value]
            bad = [v for v in values if not ok(v)]
            if bad:
                each = "each item must be " if isinstance(value, list) else "it must be "
                raise ConfigError(f"{key}={value!r}: {each}{expected} (got {bad[0]!r})")
