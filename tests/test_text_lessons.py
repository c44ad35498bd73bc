"""The text lessons' own recipes (``*_lesson`` tasks): the model, optimizer and schedule each builds."""

from __future__ import annotations

import math

import pytest
from hydra.utils import instantiate

from lightning_models.callbacks.schedules import combine
from tests.conftest import compose_config


def test_the_imdb_language_model_lesson_builds_its_net_optimizer_and_three_fits(tmp_path, cache_dir):
    cfg = compose_config("imdb_lm_lesson", tmp_path, cache_dir)
    model = instantiate(cfg.model, vocab_sz=100)
    encoder = model.encoder
    assert (encoder.emb_sz, encoder.n_hid, encoder.n_layers) == (200, 500, 3)
    dropouts = (
        encoder.input_dropout.p,
        model.decoder.output_dropout.p,
        encoder.layers[0].weight_p,
        encoder.embedding_dropout.p,
        encoder.hidden_dropouts[0].p,
    )
    assert dropouts == (0.05, 0.05, 0.1, 0.02, 0.05)  # unscaled
    assert (model.alpha, model.beta) == (2.0, 1.0)
    group = model.configure_optimizers().param_groups[0]
    assert (type(model.configure_optimizers()).__name__, group["lr"], group["betas"]) == ("Adam", 3e-3, (0.7, 0.99))
    assert group["weight_decay"] == 1e-6
    assert cfg.trainer.gradient_clip_val == 0.3 and cfg.data.min_freq == 10
    assert (cfg.data.batch_size, cfg.data.bptt) == (64, 70)

    schedule = instantiate(cfg.callbacks.schedule)
    assert schedule.cycle_epochs == [1, 2, 4, 8, 10, 10, 10, 10, 20] and schedule.n_epochs == 75
    pieces = schedule.pieces()
    # the first 1/20 at lr/100, then the cosine; every cycle restarts at the peak and ends at 0
    assert combine(pieces, 0.0) == 0.01 and combine(pieces, 0.5) == pytest.approx((1 + math.cos(math.pi / 2)) / 2)
    for start in (1, 3, 7, 15, 25, 35, 45, 55):
        assert combine(pieces, start) == pytest.approx(1.0)
        assert combine(pieces, start - 1e-9) == pytest.approx(0.0, abs=1e-6)
    assert combine(pieces, 65) == pytest.approx(0.5)


def test_the_imdb_classifier_lesson_runs_its_three_fits_with_their_frozen_groups_and_lrs(tmp_path, cache_dir):
    cfg = compose_config("imdb_clas_lesson", tmp_path, cache_dir)
    model = instantiate(cfg.model, vocab_sz=100, n_classes=2, _convert_="all")
    assert model.group_lrs() == [1e-4, 1e-4, 1e-4, 1e-3, 1e-2]  # the embedding, three LSTMs, the head
    dropouts = (model.encoder.input_dropout.p, model.encoder.layers[0].weight_p, model.encoder.embedding_dropout.p)
    assert dropouts + (model.encoder.hidden_dropouts[0].p,) == (0.4, 0.5, 0.05, 0.3)
    assert model.head[1].p == 0.1 and model.head[2].out_features == 2  # BatchNorm, dropout, the one linear layer
    assert cfg.model.max_seq == 1500 and cfg.trainer.gradient_clip_val == 25
    assert instantiate(cfg.data).valid_pct == 0  # the test reviews validate

    stages = instantiate(cfg.callbacks.finetuning, _convert_="all")
    assert stages.n_epochs == 16
    stages.total_steps = 16 * 20  # 20 steps an epoch
    lrs = [stages.lr_factor(step) for step in range(stages.total_steps)]
    groups = [stages.stages[stages.stage_at(step)[0]]["groups"] for step in range(stages.total_steps)]
    # epoch 1: the head alone at half the lrs, constant
    assert lrs[:20] == [0.5] * 20 and groups[:20] == [1] * 20
    # then everything trains; each cycle restarts at the peak, the first of each fit after 1/20 at lr/100
    assert set(groups[20:]) == {"all"}
    assert lrs[20] == lrs[40] == 0.01 and lrs[21] == pytest.approx((1 + math.cos(math.pi / 20)) / 2)
    assert lrs[60] == pytest.approx(0.5)
    for cycle_start in range(80, 320, 40):  # the 6 later cycles of 2 epochs: no warmup
        assert lrs[cycle_start] == 1.0 and lrs[cycle_start - 1] == pytest.approx((1 + math.cos(math.pi * 39 / 40)) / 2)


def test_the_ulmfit_lesson_tunes_the_last_group_then_all_on_two_triangles(tmp_path, cache_dir):
    cfg = compose_config("ulmfit_lm_lesson", tmp_path, cache_dir)
    model = instantiate(cfg.model, vocab_sz=100, _convert_="all")
    dropouts = (model.encoder.input_dropout.p, model.decoder.output_dropout.p, model.encoder.layers[0].weight_p)
    dropouts += (model.encoder.embedding_dropout.p, model.encoder.hidden_dropouts[0].p)
    assert dropouts == pytest.approx([0.7 * p for p in (0.25, 0.1, 0.2, 0.02, 0.15)])
    group = model.configure_optimizers().param_groups[0]
    assert (group["lr"], group["betas"], group["weight_decay"]) == (1e-3, (0.8, 0.99), 1e-7)
    data = instantiate(cfg.data)
    assert (data.batch_size, data.bptt, data.valid_pct) == (52, 70, 0.1)

    stages = instantiate(cfg.callbacks.finetuning, _convert_="all")
    assert stages.n_epochs == 16
    stages.total_steps = 16 * 100
    lrs = [stages.lr_factor(step) for step in range(stages.total_steps)]
    # use_clr=(32, 2) at 5e-4 over the first epoch, the last layer group alone: up from /32 to the top at
    # its middle, back down to /32
    assert stages.stages[0]["groups"] == 1 and stages.stage_at(99)[0] == 0 and stages.stage_at(100)[0] == 1
    assert (lrs[0], lrs[50], lrs[75]) == pytest.approx((0.5 / 32, 0.5, 0.5 * (1 + 1 / 32) / 2))
    # use_clr=(20, 10) at 1e-3 over the 15 epochs: the top a tenth of the way in
    assert (lrs[100], lrs[250], lrs[925]) == pytest.approx((1 / 20, 1.0, (1 + 1 / 20) / 2))
