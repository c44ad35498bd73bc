"""Next-step forecasting of a series with a small recurrent net (workshop activity 6.01: weekly sales)."""

from __future__ import annotations

import torch
import torch.nn.functional as F
import torchmetrics
from torch import nn

from lightning_models.base import RecipeModule
from lightning_models.contracts import ItemScores

CELLS = {"rnn": nn.RNN, "lstm": nn.LSTM, "gru": nn.GRU}


class SeriesRNN(nn.Module):
    """A recurrent layer over the series, one value a step, and a linear layer on every step's hidden state."""

    def __init__(self, cell: str = "rnn", n_hidden: int = 10, n_layers: int = 1) -> None:
        super().__init__()
        if cell not in CELLS:
            raise ValueError(f"unknown recurrent cell {cell!r}: choose one of {', '.join(CELLS)}")
        self.rnn = CELLS[cell](1, n_hidden, n_layers, batch_first=True)
        self.output = nn.Linear(n_hidden, 1)

    def forward(self, series: torch.Tensor) -> torch.Tensor:
        """(batch, steps) -> (batch, steps): the forecast of the step after each step."""
        hidden, _ = self.rnn(series.unsqueeze(-1))
        return self.output(hidden).squeeze(-1)


class SeriesForecaster(RecipeModule):
    """Forecasts next week's sales from the weeks so far, trained with MSE on normalized values.

    Batches are (inputs, targets) in the data's own units; the net sees them normalized by the
    training inputs' ``series_mean`` and ``series_std`` (from the data module's ``describe()``), and
    the metrics are in the data's units again: ``val/mse``, ``val/mae`` and ``val/naive_mse``, the
    error of the "same as last week" forecast on the same targets. ``val/loss`` is the normalized MSE
    that training minimizes. ``cell`` picks ``rnn`` (the workshop's), ``lstm`` or ``gru``.
    """

    def __init__(
        self,
        series_mean: float,
        series_std: float,
        cell: str = "rnn",
        n_hidden: int = 10,
        n_layers: int = 1,
        **optim,
    ) -> None:
        super().__init__(**optim)
        self.save_hyperparameters()
        if series_std <= 0:
            raise ValueError(f"series_std must be positive, got {series_std}")
        self.series_mean = series_mean
        self.series_std = series_std
        self.net = SeriesRNN(cell, n_hidden, n_layers)
        self.val_mse = torchmetrics.MeanSquaredError()
        self.val_mae = torchmetrics.MeanAbsoluteError()
        self.val_naive_mse = torchmetrics.MeanSquaredError()

    def normalize(self, values: torch.Tensor) -> torch.Tensor:
        return (values.float() - self.series_mean) / self.series_std

    def forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """The normalized forecast of the step after each input step."""
        return self.net(self.normalize(inputs))

    def forecast(self, inputs: torch.Tensor) -> torch.Tensor:
        """The forecast in the data's units."""
        return self(inputs) * self.series_std + self.series_mean

    def layer_groups(self) -> list[nn.Module]:
        return [self.net.rnn, self.net.output]

    def training_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> torch.Tensor:
        inputs, targets = batch
        loss = F.mse_loss(self(inputs), self.normalize(targets))
        self.log_train_loss(loss)
        return loss

    def validation_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> None:
        inputs, targets = batch
        forecast = self.forecast(inputs)
        self.val_mse.update(forecast, targets.float())
        self.val_mae.update(forecast, targets.float())
        self.val_naive_mse.update(inputs.float(), targets.float())

    def on_validation_epoch_end(self) -> None:
        mse = self.val_mse.compute()
        self.log("val/loss", mse / self.series_std**2)
        self.log("val/mse", mse, prog_bar=True)
        self.log("val/mae", self.val_mae.compute())
        self.log("val/naive_mse", self.val_naive_mse.compute())
        for metric in (self.val_mse, self.val_mae, self.val_naive_mse):
            metric.reset()

    def predict_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> torch.Tensor:
        return self.forecast(batch[0])

    def score_items(self, batch: tuple[torch.Tensor, ...]) -> ItemScores:
        """Each series' forecasts and actual sales (one a week, in sales counts) and its normalized MSE, for
        the reports."""
        inputs, targets = batch
        forecast = self.forecast(inputs)
        loss = ((forecast - targets.float()) / self.series_std).pow(2).mean(1)
        return ItemScores(forecast, targets.float(), loss)
