"""The ULMFiT classifier: pooling, chunked encoding, encoder transfer, batches, unfreezing stages, training."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import pytorch_lightning as pl
import torch

from datamodules.text.classification import PaddedDocuments, SortishSampler, TextClassificationDataModule
from fastlightning import load_run
from lightning_models.callbacks import OneCycle, UnfreezingStages
from lightning_models.checkpoints import CheckpointError
from lightning_models.contracts import LAYER_GROUP
from lightning_models.text.classifier import TextClassifier, left_align, masked_concat_pool
from lightning_models.text.transfer import remap_embedding, save_encoder


def _classifier(**kwargs) -> TextClassifier:
    settings = {"vocab_sz": 40, "n_classes": 3, "emb_sz": 6, "n_hid": 10, "n_layers": 2, "bptt": 4, **kwargs}
    return TextClassifier(**settings)


def _padded(docs: list[list[int]], pad: int = 1, width: int | None = None) -> tuple[torch.Tensor, torch.Tensor]:
    width = width or max(map(len, docs))
    tokens = torch.full((len(docs), width), pad)
    for i, doc in enumerate(docs):
        tokens[i, width - len(doc) :] = torch.tensor(doc)
    return tokens, torch.tensor([len(d) for d in docs])


def test_masked_concat_pool_is_exact_and_ignores_what_is_masked():
    torch.manual_seed(0)
    outputs = torch.randn(2, 5, 3)
    mask = torch.tensor([[True, True, True, False, False], [False, True, True, True, True]])
    last = torch.tensor([2, 4])
    pooled = masked_concat_pool(outputs, mask, last)
    expected = [
        torch.cat([outputs[0, 2], outputs[0, :3].max(0).values, outputs[0, :3].mean(0)]),
        torch.cat([outputs[1, 4], outputs[1, 1:].max(0).values, outputs[1, 1:].mean(0)]),
    ]
    torch.testing.assert_close(pooled, torch.stack(expected))
    scrambled = outputs.masked_fill(~mask.unsqueeze(-1), 1e6)
    torch.testing.assert_close(masked_concat_pool(scrambled, mask, last), pooled)


def test_left_align_moves_padding_to_the_end():
    tokens, lengths = _padded([[5, 6, 7], [8]])
    assert left_align(tokens, lengths, pad_idx=1).tolist() == [[5, 6, 7], [8, 1, 1]]


def test_chunked_encoding_equals_one_pass_and_ignores_padding():
    torch.manual_seed(0)
    chunked = _classifier(bptt=4).eval()
    one_pass = _classifier(bptt=1000).eval()
    one_pass.load_state_dict(chunked.state_dict())
    docs = [list(np.random.default_rng(i).integers(2, 40, n)) for i, n in enumerate([3, 9, 17, 4])]
    with torch.no_grad():
        batched = chunked.encode(*_padded(docs))
        alone = torch.cat([one_pass.encode(*_padded([doc])) for doc in docs])
        tokens, lengths = _padded(docs, width=25)
        tokens[tokens == 1] = 7
        other_padding = chunked.encode(tokens, lengths)
    torch.testing.assert_close(batched, alone)
    torch.testing.assert_close(other_padding, alone)


def test_only_the_last_max_seq_tokens_are_pooled():
    torch.manual_seed(0)
    model = _classifier(bptt=4, max_seq=6).eval()
    doc = list(range(2, 17))
    tokens, lengths = _padded([doc])
    with torch.no_grad():
        raw, _, _ = model.encoder(torch.tensor([doc]))
        outputs = raw[-1]
        expected = torch.cat([outputs[0, -1], outputs[0, -6:].max(0).values, outputs[0, -6:].mean(0)])
        torch.testing.assert_close(model.encode(tokens, lengths)[0], expected)


def test_validation_normalizes_the_head_with_the_statistics_of_the_evaluated_encoder():
    # under the encoder's dropout a fresh encoder's pooled features spread several times wider than
    # without: a head normalized with the training statistics gave every test document one class
    torch.manual_seed(0)
    model = _classifier(n_classes=2, drop_mult=1.0, dropouti=0.6, wdrop=0.6, lr=1e-2, optimizer="adam")
    rng = np.random.default_rng(0)
    tokens, lengths = _padded([list(rng.integers(2, 40, n)) for n in rng.integers(5, 15, 24)])
    batch = (tokens, lengths, torch.tensor(rng.integers(0, 2, 24)))
    trainer = pl.Trainer(
        accelerator="cpu",
        max_epochs=3,
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        num_sanity_val_steps=0,
    )
    loader = torch.utils.data.DataLoader([batch], batch_size=None)
    trainer.fit(model, train_dataloaders=loader, val_dataloaders=loader)
    model.eval()
    with torch.no_grad():
        features = model.encode(tokens, lengths)
    norm = model.head[0]
    torch.testing.assert_close(norm.running_mean, features.mean(0))
    torch.testing.assert_close(norm.running_var, features.var(0))


def test_vocabulary_remap_moves_rows_by_token_and_starts_new_ones_at_the_mean():
    weight = torch.arange(12.0).view(4, 3)
    new = remap_embedding(weight, ["a", "b", "c", "d"], ["d", "zz", "b"])
    torch.testing.assert_close(new, torch.stack([weight[3], weight.mean(0), weight[1]]))


def test_encoder_transfer_across_vocabularies_and_clear_shape_errors(tmp_path):
    torch.manual_seed(0)
    lm_itos = ["xxunk", "xxpad", "good", "bad", "film"]
    clas_itos = ["xxunk", "xxpad", "film", "new", "good"]
    source = _classifier(vocab_sz=5)
    save_encoder(source.encoder, tmp_path / "lm" / "encoder.pt")
    (tmp_path / "lm" / "vocab.json").write_text('{"itos": ' + str(lm_itos).replace("'", '"') + "}")
    (tmp_path / "clas.json").write_text('{"itos": ' + str(clas_itos).replace("'", '"') + "}")
    target = _classifier(vocab_sz=5, vocab_path=str(tmp_path / "clas.json"))
    target.load_encoder(tmp_path / "lm" / "encoder.pt")
    old = source.encoder.embedding.weight
    torch.testing.assert_close(
        target.encoder.embedding.weight, torch.stack([old[0], old[1], old[4], old.mean(0), old[2]])
    )
    torch.testing.assert_close(target.encoder.layers[1].weight_hh, source.encoder.layers[1].weight_hh)

    wider = _classifier(vocab_sz=5, emb_sz=8, vocab_path=str(tmp_path / "clas.json"))
    with pytest.raises(CheckpointError, match=r"encoder.pt .*embedding.weight: file \(5, 6\) vs model \(5, 8\)"):
        wider.load_encoder(tmp_path / "lm" / "encoder.pt")


def test_padded_documents_pad_first_and_keep_the_last_tokens():
    ids = np.arange(10, 22)
    offsets = np.array([0, 3, 10, 12])
    data = PaddedDocuments(ids, offsets, np.array([0, 1, 0]), pad_idx=1, max_len=5)
    tokens, lengths, labels, index = data[torch.tensor([1, 0, 2])]
    assert tokens.tolist() == [[15, 16, 17, 18, 19], [1, 1, 10, 11, 12], [1, 1, 1, 20, 21]]
    assert lengths.tolist() == [5, 3, 2] and labels.tolist() == [1, 0, 0] and index.tolist() == [1, 0, 2]


def test_sortish_batches():
    lengths = np.random.default_rng(0).integers(1, 500, 1000)
    sampler = SortishSampler(lengths, batch_size=10, shuffle=True, seed=0)
    batches = [b.numpy() for b in sampler]
    assert len(batches) == len(sampler) == 100
    assert sorted(np.concatenate(batches).tolist()) == list(range(1000))
    assert lengths[batches[0]].max() == lengths.max()
    assert all((np.diff(lengths[b]) <= 0).all() for b in batches)
    assert [b.tolist() for b in sampler] != [b.tolist() for b in batches]
    ranks = [SortishSampler(lengths, 10, shuffle=True, seed=0, num_replicas=2, rank=r) for r in (0, 1)]
    assert len(list(ranks[0])) == len(list(ranks[1])) == 50
    evaluation = [SortishSampler(lengths, 64, shuffle=False, num_replicas=2, rank=r) for r in (0, 1)]
    order = np.concatenate([b.numpy() for s in evaluation for b in s])
    assert sorted(order.tolist()) == list(range(1000))
    assert (np.diff(lengths[order]) <= 0).all()


def test_unfreezing_stages_change_trainable_groups_and_learning_rates():
    torch.manual_seed(0)
    model = _classifier(lr=1e-2, lr_div=2.6, optimizer="adam", n_layers=3)
    generator = torch.Generator().manual_seed(0)
    batches = [(*_padded([[2, 3, 4, 5]] * 8), torch.randint(0, 3, (8,), generator=generator)) for _ in range(4)]
    stages = [
        {"groups": 1, "epochs": 1, "lr_mult": 1.0},
        {"groups": 2, "epochs": 1, "lr_mult": 0.5},
        {"groups": 3, "epochs": 1, "lr_mult": 0.25},
        {"groups": "all", "epochs": 2, "lr_mult": 0.05},
    ]
    seen = []

    class Record(pl.Callback):
        def on_train_batch_start(self, trainer, pl_module, batch, batch_idx):
            trainable = [all(p.requires_grad for p in g.parameters()) for g in pl_module.layer_groups()]
            lrs = {}
            for group in trainer.optimizers[0].param_groups:
                lrs[group[LAYER_GROUP]] = group["lr"]
            seen.append((trainer.current_epoch, batch_idx, trainable, [lrs[i] for i in range(5)]))

    cycle = OneCycle(div=10, pct_start=0.5, final_div=100, moms=None, anneal="linear")
    schedule = UnfreezingStages(stages, cycle=cycle)
    trainer = pl.Trainer(
        accelerator="cpu",
        max_epochs=None,
        callbacks=[schedule, Record()],
        logger=False,
        enable_checkpointing=False,
        enable_progress_bar=False,
        enable_model_summary=False,
        limit_val_batches=0,
    )
    trainer.fit(model, train_dataloaders=torch.utils.data.DataLoader(batches, batch_size=None))
    assert trainer.current_epoch == 5
    starts = {epoch: (trainable, lrs) for epoch, batch, trainable, lrs in seen if batch == 0}
    assert starts[0][0] == [False, False, False, False, True]
    assert starts[1][0] == [False, False, False, True, True]
    assert starts[2][0] == [False, False, True, True, True]
    assert starts[3][0] == [True] * 5 and starts[4][0] == [True] * 5
    peaks = [1e-2 / 2.6**k for k in (4, 3, 2, 1, 0)]
    for epoch, mult in ((0, 1.0), (1, 0.5), (2, 0.25), (3, 0.05)):
        assert starts[epoch][1] == pytest.approx([p * mult / 10 for p in peaks])
    middle = [lrs for epoch, batch, _, lrs in seen if epoch == 1 and batch == 2][0]
    assert middle == pytest.approx([p * 0.5 for p in peaks])
    assert starts[4][1] == pytest.approx([p * 0.05 for p in peaks])


SMALL = [
    "model.emb_sz=32",
    "model.n_hid=64",
    "model.n_layers=2",
    "model.bptt=20",
    "data.batch_size=32",
    "data.n_workers=1",
]
ONE_CYCLE = ["~callbacks/finetuning", "callbacks/schedule=one_cycle", "model.lr=1e-2"]


def test_classifier_learns_the_sample_and_predicts_in_input_order(run_task, tmp_path, cache_dir):
    run_dir = tmp_path / "clas"
    metrics = run_task("imdb_clas", *SMALL, *ONE_CYCLE, "trainer.max_epochs=4", "predict=true", run_dir=run_dir)
    assert metrics["test/acc"] > 0.8, metrics
    predictions = pd.read_csv(run_dir / "predictions.csv")
    dm = TextClassificationDataModule(cache_dir=str(cache_dir), n_workers=1)
    dm.setup("fit")
    assert predictions["name"].tolist() == [dm.tokenized.names[d] for d in dm.docs["test"]]
    assert (predictions["label"] == [dm.label_names[c] for c in dm.tokenized.labels[dm.docs["test"]]]).all()
    assert ((predictions["prediction"] == predictions["label"]).mean()) == pytest.approx(metrics["test/acc"])
    model = TextClassifier.load_from_checkpoint(run_dir / "checkpoints" / "last.ckpt", weights_only=True).eval()
    data = TextClassificationDataModule(vocab_path=str(run_dir / "vocab.json"), cache_dir=str(cache_dir), n_workers=1)
    data.setup("fit")
    test = data.dataset("test")
    for i in (0, 7, 123):
        tokens, lengths, _, _ = test[torch.tensor([i])]
        with torch.no_grad():
            probs = torch.softmax(model(tokens, lengths), -1)[0]
        assert probs[1].item() == pytest.approx(predictions.loc[i, "prob_pos"], abs=1e-5)
    # the raw review text, tokenized by the run's own preprocessing, gets the same probabilities
    texts = [(dm.folder() / "aclImdb" / name).read_text(encoding="utf-8") for name in predictions["name"][:10]]
    again = load_run(run_dir).predict(texts, batch_size=4)
    np.testing.assert_allclose(again["prob_pos"], predictions["prob_pos"][:10], atol=1e-5)


def _polarity_corpus(path) -> None:
    """Documents of adjectives of one polarity. The labelled training documents use only half of the
    adjectives and the test documents only the other half, so a classifier can only tell the test
    adjectives' polarity from what a language model learned on the unlabelled documents."""
    rng = np.random.default_rng(0)
    positive = [f"good{i}" for i in range(10)]
    negative = [f"bad{i}" for i in range(10)]
    rows = []
    for split, n, half in (("unsup", 1500, slice(0, 10)), ("train", 200, slice(0, 5)), ("test", 200, slice(5, 10))):
        for _ in range(n):
            label = bool(rng.random() < 0.5)
            words = rng.choice((positive if label else negative)[half], size=rng.integers(8, 16))
            rows.append({"text": " ".join(words), "label": "" if split == "unsup" else "pos" if label else "neg"})
            rows[-1]["split"] = split
    pd.DataFrame(rows).to_csv(path / "polarity.csv", index=False)


def test_classifier_learns_better_from_a_pretrained_encoder(run_task, tmp_path):
    _polarity_corpus(tmp_path)
    data = ["data.corpus=csv", f"data.data_dir={tmp_path / 'polarity.csv'}", "data.n_workers=1"]
    sizes = ["model.emb_sz=16", "model.n_hid=32", "model.n_layers=2"]
    run_task(
        "imdb_lm",
        *data,
        *sizes,
        "model.lr=2e-2",
        "data.batch_size=32",
        "data.bptt=20",
        "trainer.max_epochs=3",
        "test=false",
        run_dir=tmp_path / "lm",
    )
    clas = [*data, *sizes, "data.batch_size=16", f"data.vocab_path={tmp_path / 'lm' / 'vocab.json'}"]
    pretrained = run_task(
        "imdb_clas", *clas, f"model.encoder_path={tmp_path / 'lm' / 'encoder.pt'}", run_dir=tmp_path / "pretrained"
    )
    scratch = run_task("imdb_clas", *clas, run_dir=tmp_path / "scratch")
    scratch_all_layers = run_task("imdb_clas", *clas, *ONE_CYCLE, "trainer.max_epochs=5", run_dir=tmp_path / "all")
    assert pretrained["test/acc"] > 0.8, pretrained
    assert pretrained["test/acc"] > max(scratch["test/acc"], scratch_all_layers["test/acc"]) + 0.15


@pytest.mark.slow
def test_classifier_under_ddp_on_cpu_agrees_with_one_process(run_task, tmp_path, cache_dir):
    """2 processes of batch 16 take the steps one process of batch 32 takes (the batches differ: sortish
    batches are dealt to the ranks, and BatchNorm sees each rank's half), so both learn as well."""
    common = [*SMALL, *ONE_CYCLE, "trainer.max_epochs=8", "test=false"]
    one = run_task("imdb_clas", *common, run_dir=tmp_path / "one")
    ddp_run = tmp_path / "ddp"
    ddp = run_task("imdb_clas", *common, "trainer=ddp_cpu", "data.batch_size=16", run_dir=ddp_run, reports=True)
    assert ddp["val/acc"] > 0.85 and one["val/acc"] > 0.85, (one, ddp)
    assert ddp["val/acc"] == pytest.approx(one["val/acc"], abs=0.1)
    # rank zero alone wrote the reports, from every validation document (not one rank's share), without a hang
    matrix = pd.read_csv(ddp_run / "confusion_matrix.csv", index_col=0)
    dm = TextClassificationDataModule(cache_dir=str(cache_dir), n_workers=1)
    dm.setup("fit")
    assert list(matrix.index) == dm.label_names and matrix.to_numpy().sum() == len(dm.docs["valid"])
    assert np.trace(matrix.to_numpy()) / len(dm.docs["valid"]) == pytest.approx(ddp["val/acc"], abs=1e-6)
    assert (ddp_run / "top_losses.csv").is_file()
