"""The workshop's tables, in their distributed layouts: the Somerville survey and the UCI credit-card clients."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from datamodules.files import write_once

SOMERVILLE_FILE = "SomervilleHappinessSurvey2015.csv"
SOMERVILLE_COLUMNS = {"csv": SOMERVILLE_FILE, "cont_names": [f"X{i}" for i in range(1, 7)], "y_name": "D"}
CREDIT_FILE = "UCI_Credit_Card.csv"
CREDIT_PAY = ["PAY_0", *(f"PAY_{i}" for i in range(2, 7))]
CREDIT_AMOUNTS = [*(f"BILL_AMT{i}" for i in range(1, 7)), *(f"PAY_AMT{i}" for i in range(1, 7))]
CREDIT_TARGET = "default.payment.next.month"
CREDIT_COLUMNS = {
    "csv": CREDIT_FILE,
    "cat_names": ["SEX", "EDUCATION", "MARRIAGE", *CREDIT_PAY],
    "cont_names": ["LIMIT_BAL", "AGE", *CREDIT_AMOUNTS],
    "y_name": CREDIT_TARGET,
}


def somerville_survey(n_rows: int = 143, seed: int = 0) -> pd.DataFrame:
    """Answers 1..5 to six questions (X1..X6) and whether the person is happy (D): happy with probability
    sigmoid(1.5 (X1 - 4) + 1.0 (X5 - 3.5) + 0.8 (X6 - 4)); X2..X4 carry no signal."""
    rng = np.random.default_rng(seed)
    answers = np.clip(np.round(rng.normal([4.3, 2.5, 3.3, 3.7, 3.6, 4.2], 1.0, (n_rows, 6))), 1, 5).astype(int)
    logit = 1.5 * (answers[:, 0] - 4) + 1.0 * (answers[:, 4] - 3.5) + 0.8 * (answers[:, 5] - 4)
    happy = (rng.random(n_rows) < 1 / (1 + np.exp(-logit))).astype(int)
    return pd.DataFrame({"D": happy, **{f"X{i + 1}": answers[:, i] for i in range(6)}})


def credit_clients(n_rows: int = 3000, seed: int = 0) -> pd.DataFrame:
    """Clients in the Kaggle layout of the UCI table: who defaults follows the last months' payment delays
    (PAY_0 most), the credit used (BILL_AMT1 / LIMIT_BAL) and the last payment against the bill."""
    rng = np.random.default_rng(seed)
    limit = rng.choice(np.arange(1, 51) * 20000, n_rows)
    delays = np.clip(rng.choice([-2, -1, 0, 0, 0, 1, 2], (n_rows, 1)) + rng.integers(-1, 2, (n_rows, 6)), -2, 8)
    bills = np.round(limit[:, None] * rng.beta(2, 3, (n_rows, 6)) * np.linspace(1, 0.8, 6))
    payments = np.round(bills * rng.beta(1, 6, (n_rows, 6)))
    used = bills[:, 0] / limit
    logit = -2.2 + 2.0 * np.maximum(delays[:, 0], 0) + 0.8 * np.maximum(delays[:, 1], 0) + 2.0 * (used - 0.4)
    logit -= 6 * payments[:, 0] / np.maximum(bills[:, 0], 1)
    frame = pd.DataFrame(
        {
            "ID": np.arange(1, n_rows + 1),
            "LIMIT_BAL": limit.astype(float),
            "SEX": rng.choice([1, 2], n_rows, p=[0.4, 0.6]),
            "EDUCATION": rng.choice([0, 1, 2, 3, 4, 5, 6], n_rows, p=[0.01, 0.35, 0.46, 0.16, 0.005, 0.01, 0.005]),
            "MARRIAGE": rng.choice([0, 1, 2, 3], n_rows, p=[0.01, 0.45, 0.53, 0.01]),
            "AGE": rng.integers(21, 75, n_rows),
        }
    )
    frame[CREDIT_PAY] = delays
    frame[CREDIT_AMOUNTS] = np.concatenate([bills, payments], axis=1).astype(int)
    frame[CREDIT_TARGET] = (rng.random(n_rows) < 1 / (1 + np.exp(-logit))).astype(int)
    return frame


def write_somerville_sample(folder: str | Path) -> Path:
    """``SomervilleHappinessSurvey2015.csv`` as distributed: a UTF-8 byte-order mark and CRLF line endings."""

    def write(tmp: Path) -> None:
        text = somerville_survey().to_csv(index=False, lineterminator="\r\n")
        (tmp / SOMERVILLE_FILE).write_text(text, encoding="utf-8-sig", newline="")

    return write_once(folder, write)


def write_credit_sample(folder: str | Path) -> Path:
    """``UCI_Credit_Card.csv`` as Kaggle distributes it: a quoted header and R-style numbers (``5e+05``)."""

    def write(tmp: Path) -> None:
        frame = credit_clients()
        header = ",".join(f'"{name}"' for name in frame.columns)
        limits = frame.LIMIT_BAL.map(lambda v: f"{v:.0e}" if v % 100000 == 0 else f"{v:.0f}")
        rows = frame.astype(str).assign(LIMIT_BAL=limits).apply(",".join, axis=1)
        (tmp / CREDIT_FILE).write_text("\n".join([header, *rows]) + "\n")

    return write_once(folder, write)
