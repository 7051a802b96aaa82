"""The attention reference against PyTorch's own modules (independent oracles), and the
facts the accuracy test rests on."""

import importlib.util
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from autograder.data.token_counts import token_counts
from autograder.judge.run import reference_for
from autograder.worker.probes import Build
from autograder.worker.probes.attention import (
    TrustedEncoderLayer,
    TrustedSelfAttention,
    train_token_classifier,
    trusted_attention,
)

ref = reference_for("attention").module
SUBMISSIONS = Path(__file__).parent / "submissions" / "attention"


def masks(B, N):
    full = torch.rand(B, N, N, generator=torch.Generator().manual_seed(1)) > 0.4
    full[:, range(N), range(N)] = True
    return [None, torch.ones(N, N, dtype=torch.bool).tril(), full]


@pytest.mark.parametrize("mask_kind", [0, 1, 2])
def test_attention_equals_f_scaled_dot_product_attention(mask_kind):
    q, k, v = (torch.randn(2, 6, 8, dtype=torch.float64) for _ in range(3))
    mask = masks(2, 6)[mask_kind]
    out, weights = ref.scaled_dot_product_attention(q, k, v, mask)
    assert torch.allclose(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask))
    assert torch.allclose(weights.sum(-1), torch.ones(2, 6, dtype=torch.float64))


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("mask_kind", [0, 1, 2])
def test_self_attention_equals_nn_multihead_attention(bias, mask_kind):
    B, N, d, h = 2, 6, 8, 4
    ours = ref.MultiHeadSelfAttention(d, h, bias=bias).double()
    theirs = torch.nn.MultiheadAttention(d, h, bias=bias, batch_first=True).double()
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(B, N, d, dtype=torch.float64, requires_grad=True)
    mask = masks(B, N)[mask_kind]
    pt_mask = None if mask is None else ~(mask.repeat_interleave(h, 0) if mask.dim() == 3 else mask)
    a = ours(x, mask)
    b = theirs(x, x, x, attn_mask=pt_mask, need_weights=False)[0]
    assert torch.allclose(a, b)
    ga = torch.autograd.grad(a.sum(), [x, *ours.parameters()])
    gb = torch.autograd.grad(b.sum(), [x, *theirs.parameters()])
    assert all(torch.allclose(u, w) for u, w in zip(ga, gb))


@pytest.mark.parametrize("norm_first", [True, False])
@pytest.mark.parametrize("mask_kind", [0, 1, 2])
def test_encoder_layer_equals_nn_transformer_encoder_layer(norm_first, mask_kind):
    B, N, d, h = 3, 6, 8, 2
    ours = ref.TransformerEncoderLayer(d, h, 16, norm_first=norm_first).double()
    theirs = torch.nn.TransformerEncoderLayer(d, h, 16, dropout=0.0, batch_first=True, norm_first=norm_first).double()
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(B, N, d, dtype=torch.float64, requires_grad=True)
    mask = masks(B, N)[mask_kind]
    pt_mask = None if mask is None else ~(mask.repeat_interleave(h, 0) if mask.dim() == 3 else mask)
    a, b = ours(x, mask), theirs(x, src_mask=pt_mask)
    assert torch.allclose(a, b)
    cot = torch.randn_like(a)
    ga = torch.autograd.grad(a, [x, *ours.parameters()], cot)
    gb = torch.autograd.grad(b, [x, *theirs.parameters()], cot)
    assert all(torch.allclose(u, w) for u, w in zip(ga, gb))


@pytest.mark.parametrize("mask_kind", [0, 1, 2])
def test_trusted_adapters_equal_the_reference(mask_kind):
    """The PyTorch-backed pieces the hidden tests patch in take the assignment's mask convention."""
    x, mask = torch.randn(2, 6, 8, dtype=torch.float64), masks(2, 6)[mask_kind]
    ours = ref.MultiHeadSelfAttention(8, 4).double()
    theirs = TrustedSelfAttention(8, 4).double()
    theirs.load_state_dict(ours.state_dict())
    assert torch.allclose(ours(x, mask), theirs(x, mask))
    for norm_first in (True, False):
        ours = ref.TransformerEncoderLayer(8, 2, 16, norm_first=norm_first).double()
        theirs = TrustedEncoderLayer(8, 2, 16, norm_first=norm_first).double()
        theirs.load_state_dict(ours.state_dict())
        assert torch.allclose(ours(x, mask), theirs(x, mask))
    q, k, v = (torch.randn(2, 6, 8, dtype=torch.float64) for _ in range(3))
    assert torch.allclose(ref.scaled_dot_product_attention(q, k, v, mask)[0], trusted_attention(q, k, v, mask)[0])


def _token_counts_accuracy(module, seed):
    """Per-token held-out accuracy after the hidden test's training (initial weights drawn from `seed`)."""
    tokens, labels = token_counts(2000, seed=0)
    eval_tokens, eval_labels = token_counts(500, seed=1)
    model = Build("TokenClassifier", 6, 4, d_model=32, num_heads=4, num_layers=1, dim_feedforward=64)
    torch.manual_seed(seed)
    sd = model.instantiate(ref).state_dict()
    logits = train_token_classifier(module, model=model, state_dict=sd, tokens=tokens, labels=labels,
                                    eval_tokens=eval_tokens, steps=300, lr=3e-3, seed=seed)["logits"]
    return float((logits.argmax(-1) == eval_labels).double().mean())


def test_reference_learns_token_counts_on_ten_seeds():
    torch.set_num_threads(1)
    accuracies = [_token_counts_accuracy(ref, seed) for seed in range(10)]
    assert min(accuracies) >= 0.9, accuracies


def test_identity_attention_misses_the_threshold():
    """Each token attending only to itself (tests/submissions/attention/broken_no_attention.py) ≈ 0.34."""
    torch.set_num_threads(1)
    spec = importlib.util.spec_from_file_location("no_attention", SUBMISSIONS / "broken_no_attention.py")
    no_attention = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(no_attention)
    accuracies = [_token_counts_accuracy(no_attention, seed) for seed in range(2)]
    assert max(accuracies) < 0.5, accuracies
