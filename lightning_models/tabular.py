"""Entity-embedding nets for tables (lesson 3, Rossmann): embeddings + continuous inputs -> MLP -> y_range."""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
import torchmetrics
from torch import nn

from lightning_models.base import RecipeModule
from lightning_models.contracts import ItemScores
from lightning_models.layers import SparseDropout, sigmoid_range
from lightning_models.losses import check_smoothing
from lightning_models.metrics import ExpRMSPE
from lightning_models.mixup import MixPlan


class EntityEmbeddings(nn.Module):
    """One embedding per categorical column, looked up for all columns at once.

    Column i's ``card_i x dim_i`` matrix is the block at rows ``offsets[i]`` and the first
    ``dim_i`` columns of one ``weight`` table (as wide as the widest embedding). A batch takes one
    lookup and one gather instead of a lookup and a concatenation per column; the unused
    entries right of each block are never read, so they get no gradient and stay 0. Initialized
    as the lesson did: uniform in +-2/(dim+1).
    """

    def __init__(self, emb_szs: Sequence[Sequence[int]]) -> None:
        super().__init__()
        self.cards = [int(card) for card, _ in emb_szs]
        self.dims = [int(dim) for _, dim in emb_szs]
        width = max(self.dims)
        self.starts = [sum(self.cards[:i]) for i in range(len(self.cards))]
        self.weight = nn.Parameter(torch.zeros(sum(self.cards), width))
        with torch.no_grad():
            for i, dim in enumerate(self.dims):
                bound = 2 / (dim + 1)
                self.table(i).uniform_(-bound, bound)
        self.register_buffer("offsets", torch.tensor(self.starts), persistent=False)
        used = [i * width + j for i, dim in enumerate(self.dims) for j in range(dim)]
        self.register_buffer("used", torch.tensor(used), persistent=False)

    @property
    def n_out(self) -> int:
        return sum(self.dims)

    def table(self, i: int) -> torch.Tensor:
        """Column i's embedding matrix (a view into the shared table)."""
        return self.weight[self.starts[i] : self.starts[i] + self.cards[i], : self.dims[i]]

    def forward(self, x_cat: torch.Tensor) -> torch.Tensor:
        """Codes [batch, columns] of any integer type -> the concatenated embeddings [batch, sum(dims)]."""
        rows = F.embedding(x_cat.long() + self.offsets, self.weight)
        return rows.flatten(1).index_select(1, self.used)


class TabularNet(nn.Module):
    """Embeddings of the categorical columns, BatchNorm on the continuous ones, then Linear-ReLU-dropout layers.

    As the lesson's model: embeddings drawn uniform in +-2/(dim+1), dropout on the concatenated
    embeddings, Kaiming-normal linear weights, no BatchNorm between hidden layers unless ``use_bn``,
    and the output squashed into ``y_range`` by a sigmoid: one number, or ``n_out`` of them (several targets;
    ``y_range`` one [low, high] for all or one per output), or ``n_out`` logits, one per class (no ``y_range``).
    """

    def __init__(
        self,
        emb_szs: Sequence[Sequence[int]],
        n_cont: int,
        y_range: Sequence[float] | None = None,
        layers: Sequence[int] = (1000, 500),
        ps: Sequence[float] = (0.001, 0.01),
        emb_drop: float = 0.04,
        use_bn: bool = False,
        bn_cont: bool = True,
        n_out: int = 1,
    ) -> None:
        super().__init__()
        if len(ps) != len(layers):
            raise ValueError(f"need one dropout per hidden layer: got {len(ps)} ps for {len(layers)} layers")
        if not emb_szs and not n_cont:
            raise ValueError("a tabular net needs at least one categorical or continuous input column")
        self.embeds = EntityEmbeddings(emb_szs) if emb_szs else None
        self.emb_drop = SparseDropout(emb_drop)
        self.n_cont = n_cont
        self.bn_cont = nn.BatchNorm1d(n_cont) if n_cont and bn_cont else nn.Identity()
        hidden: list[nn.Module] = []
        n_in = (self.embeds.n_out if self.embeds is not None else 0) + n_cont
        for width, p in zip(layers, ps, strict=True):
            linear = nn.Linear(n_in, width)
            nn.init.kaiming_normal_(linear.weight)
            hidden += [linear, nn.ReLU(inplace=True)]
            hidden += [nn.BatchNorm1d(width)] if use_bn else []
            hidden += [SparseDropout(p)]
            n_in = width
        self.hidden = nn.Sequential(*hidden)
        self.out = nn.Linear(n_in, n_out)
        nn.init.kaiming_normal_(self.out.weight)
        self.n_out = n_out
        self.y_range = None if y_range is None else tuple(tuple(r) if isinstance(r, Sequence) else r for r in y_range)
        self.range_per_output = self.y_range is not None and isinstance(self.y_range[0], tuple)
        if self.range_per_output:
            if len(self.y_range) != n_out:
                raise ValueError(f"y_range has {len(self.y_range)} [low, high] pairs for {n_out} outputs")
            # per-output bounds, moved with the module; not in the state dict (y_range is a hyperparameter)
            bounds = torch.tensor(self.y_range, dtype=torch.float32).T
            self.register_buffer("y_low", bounds[0], persistent=False)
            self.register_buffer("y_high", bounds[1], persistent=False)

    def forward(self, x_cat: torch.Tensor, x_cont: torch.Tensor, mix: MixPlan | None = None) -> torch.Tensor:
        """``x_cat``: codes of any integer type (data modules keep them small), ``x_cont``: floats; ``mix``
        mixes the rows after their embedding (codes cannot be mixed), where MixUp mixes a tabular net."""
        parts = []
        if self.embeds is not None:
            parts.append(self.emb_drop(self.embeds(x_cat)))
        if self.n_cont:
            parts.append(self.bn_cont(x_cont))
        x = torch.cat(parts, 1) if len(parts) > 1 else parts[0]
        x = self.out(self.hidden(x if mix is None else mix.mix(x)))
        if self.range_per_output:
            x = sigmoid_range(x, self.y_low, self.y_high)
        elif self.y_range is not None:
            x = sigmoid_range(x, *self.y_range)
        return x.squeeze(1) if self.n_out == 1 else x


class TabularRecipe(RecipeModule):
    """What the tabular models share: a ``TabularNet`` from its settings, the lesson's optimizer (Adam,
    lr 1e-3, betas (0.9, 0.999)) and the layer groups: the inputs (embeddings, BatchNorm of the
    continuous columns), the hidden layers, the output layer. A subclass sets the outputs (``y_range``
    for one number, ``n_out`` for one logit per class)."""

    def __init__(
        self,
        emb_szs: Sequence[Sequence[int]],
        n_cont: int,
        layers: Sequence[int] = (1000, 500),
        ps: Sequence[float] = (0.001, 0.01),
        emb_drop: float = 0.04,
        use_bn: bool = False,
        bn_cont: bool = True,
        lr: float = 1e-3,
        optimizer: str = "adam",
        betas: Sequence[float] = (0.9, 0.999),
        *,
        y_range: Sequence[float] | None = None,
        n_out: int = 1,
        **optim,
    ) -> None:
        super().__init__(lr=lr, optimizer=optimizer, betas=betas, **optim)
        # the subclass's arguments too (Lightning collects every __init__ frame); n_out follows from them
        self.save_hyperparameters(ignore=["n_out"])
        self.net = TabularNet(emb_szs, n_cont, y_range, layers, ps, emb_drop, use_bn, bn_cont, n_out)

    def forward(self, x_cat: torch.Tensor, x_cont: torch.Tensor) -> torch.Tensor:
        return self.net(x_cat, x_cont)

    def layer_groups(self) -> list[nn.Module]:
        inputs = [m for m in (self.net.embeds, self.net.bn_cont) if m is not None]
        return [nn.ModuleList(inputs), self.net.hidden, self.net.out]


def regression_metrics(log_target: bool, n_targets: int = 1) -> nn.ModuleDict:
    """The mean squared error of the outputs as trained (the loss), the RMSE in the target's own units (over
    every target, and of each one when there are several) and, with a log target, the RMSPE."""
    metrics = {"loss": torchmetrics.MeanMetric(), "rmse": torchmetrics.MeanSquaredError(squared=False)}
    if log_target:
        metrics["rmspe"] = ExpRMSPE()
    if n_targets > 1:
        metrics["each_rmse"] = nn.ModuleList(torchmetrics.MeanSquaredError(squared=False) for _ in range(n_targets))
    return nn.ModuleDict(metrics)


class TabularModule(TabularRecipe):
    """Regression on a table with ``TabularNet``, trained with MSE (on log targets for Rossmann).

    ``emb_szs`` ([cardinality, dim] per categorical column), ``n_cont``, ``y_range`` and
    ``log_target`` come from the data module's ``describe()``, and ``targets``, the names of several
    target columns predicted at once (one output each), with ``target_stds``, their spread in the
    training rows: the loss weighs each one's squared error by 1/std², so that a target counted in
    thousands does not drown one counted in units. ``val/rmse``
    is the RMSE in the target's own units (of the exponentiated predictions, with a log target, which
    also logs their RMSPE as ``val/rmspe``); with several targets over all of them, and
    ``val/rmse_<target>`` of each. The net's and the optimizer's settings are ``TabularRecipe``'s.
    """

    def __init__(
        self,
        emb_szs: Sequence[Sequence[int]],
        n_cont: int,
        y_range: Sequence[float] | Sequence[Sequence[float]] | None = None,
        log_target: bool = True,
        targets: Sequence[str] | None = None,
        target_stds: Sequence[float] | None = None,
        **net_and_optim,
    ) -> None:
        n_targets = len(targets) if targets else 1
        super().__init__(emb_szs, n_cont, y_range=y_range, n_out=n_targets, **net_and_optim)
        self.targets = list(targets) if targets else []
        if target_stds is not None and len(target_stds) != n_targets:
            raise ValueError(f"target_stds has {len(target_stds)} values for the {n_targets} targets {self.targets}")
        weights = None if target_stds is None else torch.tensor([1 / s**2 if s > 0 else 1.0 for s in target_stds])
        self.register_buffer("target_weights", weights, persistent=False)
        self.log_target = log_target
        self.val_metrics = regression_metrics(log_target, len(self.targets))
        self.test_metrics = regression_metrics(log_target, len(self.targets))

    def training_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> torch.Tensor:
        x_cat, x_cont, y = batch
        loss = self.squared_errors(self(x_cat, x_cont), y).mean()
        self.log_train_loss(loss)
        return loss

    def squared_errors(self, preds: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Each output's squared error, weighed by ``target_weights`` when there are several targets."""
        errors = (preds.float() - y) ** 2
        return errors if self.target_weights is None else errors * self.target_weights

    def _evaluate(self, batch: tuple[torch.Tensor, ...], split: str, metrics: nn.ModuleDict) -> None:
        x_cat, x_cont, y = batch
        preds = self(x_cat, x_cont)
        metrics["loss"](self.squared_errors(preds, y))
        self.log(f"{split}/loss", metrics["loss"])
        if "rmspe" in metrics:
            metrics["rmspe"](preds, y)
            self.log(f"{split}/rmspe", metrics["rmspe"], prog_bar=True)
            preds, y = preds.exp(), y.exp()
        metrics["rmse"](preds, y)
        self.log(f"{split}/rmse", metrics["rmse"], prog_bar="rmspe" not in metrics)
        if "each_rmse" in metrics:
            for i, (name, metric) in enumerate(zip(self.targets, metrics["each_rmse"], strict=True)):
                metric(preds[:, i], y[:, i])
                self.log(f"{split}/rmse_{name}", metric)

    def validation_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> None:
        self._evaluate(batch, "val", self.val_metrics)

    def test_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> None:
        self._evaluate(batch, "test", self.test_metrics)

    def predict_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> torch.Tensor:
        x_cat, x_cont = batch[:2]
        return self(x_cat, x_cont)

    def score_items(self, batch: tuple[torch.Tensor, ...]) -> ItemScores:
        """Each row's prediction and target in the target's units (exponentiated for a log target) and its
        squared error as trained, for the reports."""
        x_cat, x_cont, y = batch
        preds = self(x_cat, x_cont).float()
        loss = self.squared_errors(preds, y)
        loss = loss.mean(1) if loss.dim() > 1 else loss
        return ItemScores(preds.exp(), y.exp(), loss) if self.log_target else ItemScores(preds, y, loss)


def classification_metrics(n_classes: int) -> nn.ModuleDict:
    """Mean cross-entropy, accuracy and, for two classes, the AUROC of the second class's probability."""
    metrics = {
        "loss": torchmetrics.MeanMetric(),
        "acc": torchmetrics.Accuracy(task="multiclass", num_classes=n_classes),
    }
    if n_classes == 2:
        metrics["auroc"] = torchmetrics.AUROC(task="binary")
    return nn.ModuleDict(metrics)


class TabularClassifier(TabularRecipe):
    """Classification on a table with ``TabularNet`` (one output per class), trained with cross-entropy.

    ``emb_szs``, ``n_cont`` and ``classes`` (the labels, in the order of the codes) come from the data
    module's ``describe()`` with ``classify``; ``class_weights`` weigh the training loss per class.
    Logs ``val/loss`` (mean cross-entropy), ``val/acc`` and, for two classes, ``val/auroc`` of the
    second class's probability, and the same as ``test/...`` on a test set. Predictions are the class
    probabilities. The net's and the optimizer's settings are ``TabularRecipe``'s.
    """

    def __init__(
        self,
        emb_szs: Sequence[Sequence[int]],
        n_cont: int,
        classes: Sequence[str],
        class_weights: Sequence[float] | None = None,
        label_smoothing: float = 0.0,
        **net_and_optim,
    ) -> None:
        n_classes = len(classes)
        if n_classes < 2:
            raise ValueError(f"a classifier needs at least 2 classes, got {list(classes)}")
        if class_weights is not None and len(class_weights) != n_classes:
            raise ValueError(f"class_weights has {len(class_weights)} values for the {n_classes} classes {classes}")
        super().__init__(emb_szs, n_cont, n_out=n_classes, **net_and_optim)
        self.classes = list(classes)
        self.label_smoothing = check_smoothing(label_smoothing)
        self.mix_plan: MixPlan | None = None
        weights = torch.tensor(class_weights, dtype=torch.float32) if class_weights is not None else None
        self.register_buffer("class_weights", weights)
        self.val_metrics = classification_metrics(n_classes)
        self.test_metrics = classification_metrics(n_classes)

    def training_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> torch.Tensor:
        loss = self.train_loss(batch)
        self.log_train_loss(loss)
        return loss

    def train_loss(self, batch: tuple[torch.Tensor, ...]) -> torch.Tensor:
        """Cross-entropy (class-weighted, smoothed as set), on MixUp's mixed rows when it has set a plan."""
        x_cat, x_cont, y = batch
        logits = self.net(x_cat, x_cont, self.mix_plan).float()

        def cross_entropy(out: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
            return F.cross_entropy(out, target, weight=self.class_weights, label_smoothing=self.label_smoothing)

        return cross_entropy(logits, y) if self.mix_plan is None else self.mix_plan.loss(cross_entropy, logits, y)

    def _evaluate(self, batch: tuple[torch.Tensor, ...], metrics: nn.ModuleDict) -> None:
        x_cat, x_cont, y = batch
        logits = self(x_cat, x_cont).float()
        metrics["loss"].update(F.cross_entropy(logits, y, reduction="none"))
        metrics["acc"].update(logits, y)
        if "auroc" in metrics:
            metrics["auroc"].update(logits.softmax(1)[:, 1], y)

    def _log_metrics(self, split: str, metrics: nn.ModuleDict) -> None:
        for name, metric in metrics.items():
            self.log(f"{split}/{name}", metric, prog_bar=name == "acc")

    def validation_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> None:
        self._evaluate(batch, self.val_metrics)

    def on_validation_epoch_end(self) -> None:
        self._log_metrics("val", self.val_metrics)

    def test_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> None:
        self._evaluate(batch, self.test_metrics)

    def on_test_epoch_end(self) -> None:
        self._log_metrics("test", self.test_metrics)

    def predict_step(self, batch: tuple[torch.Tensor, ...], batch_idx: int) -> torch.Tensor:
        x_cat, x_cont = batch[:2]
        return self(x_cat, x_cont).float().softmax(1)

    def score_items(self, batch: tuple[torch.Tensor, ...]) -> ItemScores:
        """Each row's likeliest class, label and (unweighted) cross-entropy, for the reports."""
        x_cat, x_cont, y = batch
        logits = self(x_cat, x_cont).float()
        return ItemScores(logits.argmax(1), y, F.cross_entropy(logits, y, reduction="none"))
