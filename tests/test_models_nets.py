"""Tests of the torch nets: shapes, padding invariance, learning, hparam validation."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from bioseq.data.batching import collate
from bioseq.errors import ConfigError
from bioseq.models.cnn_lstm import CnnLstmClassifier
from bioseq.models.conv import TokenEmbedding
from bioseq.models.dilated_cnn import DilatedCnnClassifier
from bioseq.models.heads import ClassificationHead
from bioseq.models.pooling import AttentionPool, masked_max, masked_mean, pooled_lengths
from bioseq.models.transformer import TransformerClassifier, rotary_tables, rotate, sinusoidal_table
from bioseq.tasks import probabilities

torch.set_num_threads(1)

VOCAB = 8  # 4 specials + A, C, G, T (k=1 DNA)
SMALL_CNN = {"conv_filters": [16, 16], "conv_kernels": [7, 5], "pool_sizes": [3, 2], "rnn_hidden": 12,
             "head_hidden": 8}
SMALL_TF = {"d_model": 32, "n_layers": 2, "n_heads": 4, "max_tokens": 128}

CNN_VARIANTS = [
    {**SMALL_CNN, "rnn": rnn, "pooling": pooling}
    for rnn in ("lstm", "gru") for pooling in ("mean+max", "attention")
] + [{**SMALL_CNN, "embedding": "learned", "embed_dim": 8, "bidirectional": False, "pooling": "max"},
      {**SMALL_CNN, "head_norm": "batch"}]
TF_VARIANTS = [{**SMALL_TF, "pooling": p, "positional": pos} for p in ("mean", "cls")
               for pos in ("learned", "sinusoidal")] + [
    {**SMALL_TF, "rotary": True}, {**SMALL_TF, "rotary": True, "positional": "none", "pooling": "cls"},
    {**SMALL_TF, "conv_stem": 5}, {**SMALL_TF, "conv_stem": 3, "rotary": True, "pooling": "cls"}]
SMALL_DIL = {"channels": 16, "stem_kernel": 5, "dilations": [1, 2, 4], "head_hidden": 8}
DIL_VARIANTS = [SMALL_DIL, {**SMALL_DIL, "stem_pool": 3, "pooling": "attention"},
                {**SMALL_DIL, "embedding": "learned", "embed_dim": 8, "block_kernel": 5, "head_norm": "batch"}]
ALL = ([(CnnLstmClassifier, hp) for hp in CNN_VARIANTS] + [(TransformerClassifier, hp) for hp in TF_VARIANTS]
       + [(DilatedCnnClassifier, hp) for hp in DIL_VARIANTS])
IDS = [f"{a.name}-{i}" for i, (a, _) in enumerate(ALL)]


def _tokens(lengths: list[int], seed: int = 0) -> list[np.ndarray]:
    rng = np.random.default_rng(seed)
    return [rng.integers(4, VOCAB, size=n).astype(np.uint16) for n in lengths]


@pytest.mark.parametrize(("arch", "hp"), ALL, ids=IDS)
@pytest.mark.parametrize("n_classes", [2, 3, 5])
def test_forward_and_features_shapes(arch, hp, n_classes):
    torch.manual_seed(0)
    net = arch.build(VOCAB, n_classes, hp).eval()
    ids, mask = collate(_tokens([40, 17, 1, 64]))
    with torch.no_grad():
        logits = net(ids, mask)
        feats = net.features(ids, mask)
    assert logits.shape == (4, n_classes) and logits.dtype == torch.float32
    assert feats.shape == (4, net.embedding_dim)
    assert torch.isfinite(logits).all() and torch.isfinite(feats).all()


@pytest.mark.parametrize(("arch", "hp"), ALL, ids=IDS)
def test_padding_invariance(arch, hp):
    """A sequence's logits and embedding alone equal those in a batch with longer ones."""
    torch.manual_seed(1)
    net = arch.build(VOCAB, 3, hp).eval()
    toks = _tokens([23, 90, 5, 61, 2], seed=3)
    ids, mask = collate(toks)
    with torch.no_grad():
        batch_logits, batch_feats = net(ids, mask), net.features(ids, mask)
        for i, t in enumerate(toks):
            one_ids, one_mask = collate([t])
            torch.testing.assert_close(net(one_ids, one_mask)[0], batch_logits[i], atol=1e-5, rtol=1e-4)
            torch.testing.assert_close(net.features(one_ids, one_mask)[0], batch_feats[i], atol=1e-5, rtol=1e-4)


@pytest.mark.parametrize(("arch", "hp"), ALL, ids=IDS)
def test_padding_token_values_do_not_matter(arch, hp):
    """Whatever sits under mask=False cannot change the result."""
    torch.manual_seed(2)
    net = arch.build(VOCAB, 2, hp).eval()
    ids, mask = collate(_tokens([30, 12]))
    garbage = ids.clone()
    garbage[~mask] = 5
    with torch.no_grad():
        torch.testing.assert_close(net(ids, mask), net(garbage, mask), atol=1e-5, rtol=1e-4)


def _motif_problem(n: int = 96, length: int = 40, seed: int = 0, motif: tuple[int, ...] = (4, 5, 6, 7, 7, 6, 5, 4)
                   ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Random DNA tokens (ids 5..7 plus 4); class 1 carries ``motif`` at a random place.

    For k=1 nets the default motif is the 8-mer ACGTTGCA; for the Transformer,
    whose DNA tokens are k-mers, a motif is one or two tokens, and learning it
    from 96 sequences in 40 steps is the realistic test.
    """
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    toks = []
    for label in y:
        t = rng.integers(4, VOCAB, size=int(rng.integers(length - 10, length + 1)))
        if label:
            p = int(rng.integers(0, len(t) - len(motif)))
            t[p : p + len(motif)] = motif
        else:
            t[t == motif[0]] = 5 if motif[0] != 5 else 6
        toks.append(t)
    ids, mask = collate(toks)
    return ids, mask, torch.from_numpy(y)


TOKEN_MOTIF = (4, 4)


@pytest.mark.parametrize(
    ("arch", "hp", "motif"),
    [(CnnLstmClassifier, {**SMALL_CNN, "conv_dropout": 0.0, "rnn_dropout": 0.0, "head_dropout": 0.0}, None),
     (CnnLstmClassifier, {**SMALL_CNN, "rnn": "gru", "pooling": "attention"}, None),
     (TransformerClassifier, {**SMALL_TF, "dropout": 0.0}, TOKEN_MOTIF),
     (TransformerClassifier, {**SMALL_TF, "pooling": "cls"}, TOKEN_MOTIF),
     (DilatedCnnClassifier, {**SMALL_DIL, "dropout": 0.0, "head_dropout": 0.0}, None)],
    ids=["cnn-lstm", "cnn-gru-attention", "transformer", "transformer-cls", "dilated-cnn"],
)
def test_loss_falls_on_a_motif_problem(arch, hp, motif):
    torch.manual_seed(0)
    net = arch.build(VOCAB, 2, hp)
    ids, mask, y = _motif_problem() if motif is None else _motif_problem(motif=motif)
    opt = torch.optim.Adam(net.parameters(), lr=5e-3)
    net.train()
    losses = []
    for _ in range(40):
        opt.zero_grad()
        loss = torch.nn.functional.cross_entropy(net(ids, mask), y)
        loss.backward()
        opt.step()
        losses.append(loss.item())
    assert losses[-1] < 0.6 * losses[0], losses


def test_multilabel_logits_train_with_bce():
    torch.manual_seed(0)
    net = CnnLstmClassifier.build(VOCAB, 3, SMALL_CNN)
    ids, mask, y = _motif_problem(n=32)
    target = torch.stack([y, 1 - y, torch.zeros_like(y)], dim=1).float()
    opt = torch.optim.Adam(net.parameters(), lr=5e-3)
    first = None
    for _ in range(15):
        opt.zero_grad()
        loss = torch.nn.functional.binary_cross_entropy_with_logits(net(ids, mask), target)
        loss.backward()
        opt.step()
        first = loss.item() if first is None else first
    assert loss.item() < first


@pytest.mark.parametrize("arch", [CnnLstmClassifier, TransformerClassifier, DilatedCnnClassifier])
@pytest.mark.parametrize("alphabet", ["dna", "protein"])
def test_default_hparams_build_and_are_json(arch, alphabet):
    hp = arch.default_hparams(alphabet)
    assert json.loads(json.dumps(hp)) == hp
    assert hp["max_tokens"] >= 500
    tok = arch.default_tokenizer(alphabet)
    assert set(tok) == {"k", "stride", "canonical"}
    n_letters = 20 if alphabet == "protein" else 4
    vocab = 4 + n_letters ** tok["k"]
    net = arch.build(vocab, 2, hp).eval()
    ids, mask = collate([np.arange(4, 4 + min(vocab - 4, 60)) % vocab])
    with torch.no_grad():
        assert net(ids, mask).shape == (1, 2)


@pytest.mark.parametrize("arch", [CnnLstmClassifier, TransformerClassifier, DilatedCnnClassifier])
def test_unknown_hparam_names_the_key(arch):
    with pytest.raises(ConfigError, match="filterz"):
        arch.build(VOCAB, 2, {"filterz": 3})


@pytest.mark.parametrize(
    ("arch", "hp"),
    [(CnnLstmClassifier, {"rnn": "transformer"}), (CnnLstmClassifier, {"pooling": "sum"}),
     (CnnLstmClassifier, {"conv_filters": [8, 8], "conv_kernels": [3]}),
     (CnnLstmClassifier, {"embedding": "bag"}), (TransformerClassifier, {"pooling": "attention"}),
     (TransformerClassifier, {"d_model": 30, "n_heads": 4}), (TransformerClassifier, {"positional": "rope"}),
     (TransformerClassifier, {"conv_stem": 4}), (TransformerClassifier, {"conv_stem": -3}),
     (TransformerClassifier, {"d_model": 36, "n_heads": 4, "rotary": True}),
     (DilatedCnnClassifier, {"dilations": [1, 0]}), (DilatedCnnClassifier, {"stem_pool": 0}),
     (DilatedCnnClassifier, {"dropout": 1.0}), (DilatedCnnClassifier, {"pooling": "cls"})],
)
def test_bad_hparam_values_raise_config_error(arch, hp):
    with pytest.raises(ConfigError):
        arch.build(VOCAB, 2, hp)


@pytest.mark.parametrize("pooling", ["mean", "cls"])
@pytest.mark.parametrize(("positional", "rotary"), [("learned", False), ("sinusoidal", False), ("learned", True),
                                                   ("none", True)])
def test_transformer_accepts_max_tokens_and_rejects_more(pooling, positional, rotary):
    hp = {**SMALL_TF, "max_tokens": 16, "pooling": pooling, "positional": positional, "rotary": rotary}
    net = TransformerClassifier.build(VOCAB, 2, hp).eval()
    ids, mask = collate(_tokens([16]))
    net(ids, mask)  # exactly max_tokens is fine
    ids, mask = collate(_tokens([17]))
    with pytest.raises(ConfigError, match="max_tokens"):
        net(ids, mask)


def test_rotary_scores_depend_on_the_offset_between_positions_only():
    """Rotated query . key equals for every pair of positions the same distance apart, and
    differs between distances: what lets attention learn the spacing of two motifs wherever
    they sit."""
    torch.manual_seed(0)
    tables = rotary_tables(64, 8)
    q, k = torch.randn(8), torch.randn(8)

    def score(m: int, n: int) -> torch.Tensor:
        rq = rotate(q.expand(1, 1, 64, 8), tables)[0, 0, m]
        rk = rotate(k.expand(1, 1, 64, 8), tables)[0, 0, n]
        return rq @ rk

    torch.testing.assert_close(score(3, 10), score(40, 47))
    torch.testing.assert_close(score(10, 3), score(57, 50))
    assert not torch.allclose(score(3, 10), score(3, 20))
    torch.testing.assert_close(rotate(q.expand(1, 1, 64, 8), tables).norm(dim=-1), q.norm().expand(1, 1, 64))


def test_transformer_hparams_without_the_new_keys_build_the_earlier_net():
    """A bundle saved before conv_stem and rotary positions merges the base defaults: no stem,
    learned absolute positions, the same parameter names."""
    net = TransformerClassifier.build(VOCAB, 2, dict(SMALL_TF))
    names = set(net.state_dict())
    assert "trunk.pos" in names and not any(n.startswith("trunk.stem") for n in names)
    assert net.trunk.rotary is None


def test_dilated_receptive_field_reaches_exactly_as_far_as_the_dilations_say():
    """One letter changed at offset d from a position changes that position's features only when d is
    inside the receptive field: stem half-width + (block_kernel - 1) / 2 * sum(dilations)."""
    torch.manual_seed(0)
    hp = {**SMALL_DIL, "stem_kernel": 3, "dilations": [1, 2, 4]}  # reach 1 + 7 = 8 letters each side
    net = DilatedCnnClassifier.build(VOCAB, 2, hp).eval()
    ids = torch.from_numpy(_tokens([40])[0].astype(np.int64))[None]
    mask = torch.ones_like(ids, dtype=torch.bool)
    with torch.no_grad():
        base = net.trunk(ids, mask)[0][0, 5]
        for offset, changes in ((8, True), (9, False)):
            mutant = ids.clone()
            mutant[0, 5 + offset] = 4 + (int(mutant[0, 5 + offset]) - 3) % 4  # another letter
            moved = not torch.allclose(net.trunk(mutant, mask)[0][0, 5], base)
            assert moved is changes, offset


def test_all_padding_row_is_an_error():
    net = CnnLstmClassifier.build(VOCAB, 2, SMALL_CNN).eval()
    ids, mask = collate(_tokens([5, 5]))
    mask[1] = False
    with pytest.raises(ConfigError, match="at least one token"):
        net(ids, mask)


def test_onehot_embedding_table():
    emb = TokenEmbedding(VOCAB, "auto", 16)
    assert emb.mode == "onehot" and emb.dim == 4
    out = emb(torch.tensor([[0, 1, 2, 3, 4, 5, 6, 7]]))[0]
    torch.testing.assert_close(out[0], torch.zeros(4))  # PAD
    torch.testing.assert_close(out[1], torch.full((4,), 0.25))  # UNK = uniform, like N in Selene
    torch.testing.assert_close(out[4:], torch.eye(4))
    assert not list(emb.parameters())
    assert TokenEmbedding(4 + 4**6, "auto", 16).mode == "learned"


def test_masked_pools_ignore_padding():
    x = torch.tensor([[[1.0], [3.0], [100.0]]])
    mask = torch.tensor([[True, True, False]])
    assert masked_mean(x, mask).item() == 2.0
    assert masked_max(x, mask).item() == 3.0
    pool = AttentionPool(1)
    w = pool.weights(x, mask)
    assert w[0, 2].item() == 0.0 and abs(w.sum().item() - 1.0) < 1e-6


def test_pooled_lengths_are_ceil():
    assert pooled_lengths(torch.tensor([1, 7, 8, 9]), 8).tolist() == [1, 1, 1, 2]


def test_sinusoidal_table_odd_dim():
    t = sinusoidal_table(10, 7)
    assert t.shape == (10, 7) and torch.isfinite(t).all()


def test_head_output_shape_and_probabilities_match_torch_softmax_and_sigmoid():
    head = ClassificationHead(6, 3, hidden=4, dropout=0.1)
    assert head(torch.zeros(2, 6)).shape == (2, 3)
    logits = torch.tensor([[0.0, 1.0, -1.0], [800.0, -800.0, 0.0]])
    p = probabilities(logits.numpy(), "multiclass")
    np.testing.assert_allclose(p.sum(axis=1), 1.0, atol=1e-6)
    np.testing.assert_allclose(p, torch.softmax(logits.double(), -1).numpy(), atol=1e-6)
    np.testing.assert_allclose(probabilities(logits.numpy(), "multilabel"), torch.sigmoid(logits).numpy(), atol=1e-6)
    with pytest.raises(ConfigError):
        probabilities(logits.numpy(), "regression")


def test_batchnorm_head_trains_on_a_batch_of_one_and_starts_from_the_first_batch():
    """head_norm=batch (the protein default): the running statistics start at the first
    training batch's (not at PyTorch's 0/1, far from pooled features varying by ~1e-4),
    a training batch of one uses them instead of raising, and heads without it keep
    their weight names (bundles saved before head_norm existed load unchanged)."""
    torch.manual_seed(0)
    head = ClassificationHead(6, 3, hidden=4, norm="batch").train()
    x = 5.0 + 0.01 * torch.randn(32, 6)
    head(x)
    torch.testing.assert_close(head.norm.running_mean, x.mean(0))
    torch.testing.assert_close(head.norm.running_var, x.var(0))
    assert head(x[:1]).shape == (1, 3)
    assert not any(k.startswith("norm.") for k in ClassificationHead(6, 3, hidden=4).state_dict())
    protein = CnnLstmClassifier.default_hparams("protein")
    assert protein["head_norm"] == "auto" and CnnLstmClassifier.default_hparams("dna")["head_norm"] == "none"
    assert CnnLstmClassifier.adapt_hparams(protein, 430.0)["head_norm"] == "batch"  # deeploc's median
    assert CnnLstmClassifier.adapt_hparams(protein, 40.0)["head_norm"] == "none"  # short peptides (AMPs)
    assert CnnLstmClassifier.build(24, 3, protein).head.norm is None  # built without data
    with pytest.raises(ConfigError):
        ClassificationHead(6, 3, norm="layer")
