"""The attention reference against PyTorch's own modules (independent oracles), and the
facts the accuracy test rests on."""

import importlib.util
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F
from conftest import ROBUSTNESS_SEEDS

from autograder.data.token_counts import token_counts
from autograder.judge.run import reference_for
from autograder.judge.subject import LocalSubject
from autograder.worker.probes import Build
from autograder.worker.probes.attention import (
    TrustedEncoderLayer,
    TrustedSelfAttention,
    encoder_layer_like,
    on_trusted_parts,
    self_attention_like,
    trusted_attention,
)

REF = reference_for("attention")
ref = REF.module
HIDDEN = Path(__file__).parents[1] / "solutions" / "attention" / "test_hidden.py"


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


def _token_counts_accuracy(module, seed, steps=200):
    """Held-out per-token accuracy after the hidden test's training (the module's classifier on
    PyTorch's layers, initial weights drawn from `seed`), judged on the reference."""
    tokens, labels = token_counts(2000, seed=0)
    eval_tokens, eval_labels = token_counts(500, seed=1)
    model, patch = on_trusted_parts(Build("TokenClassifier", 6, 4, d_model=32, num_heads=4, num_layers=1, dim_feedforward=32))
    subject = LocalSubject(module, "module")
    sd = REF.run("state_dict", model=model, seed=seed, patch=patch)["state_dict"]
    weights = subject.run("train_token_classifier", model=model, state_dict=sd, tokens=tokens, labels=labels, steps=steps,
                          lr=5e-3, seed=seed, patch=patch)["state_dict"]
    logits = REF.run("predict", model=model, state_dict=weights, args=(eval_tokens,))["output"]
    return float((logits.argmax(-1) == eval_labels).double().mean())


def test_reference_learns_token_counts_on_every_seed():
    torch.set_num_threads(1)
    accuracies = [_token_counts_accuracy(ref, seed) for seed in ROBUSTNESS_SEEDS]
    print(f"token counts, held-out accuracy on seeds {list(ROBUSTNESS_SEEDS)}: {[round(a, 3) for a in accuracies]}")
    assert min(accuracies) >= 0.95, accuracies


class _LayersSkipped(ref.TokenClassifier):
    """Each token sees only itself: the layers are never called."""

    def forward(self, tokens):
        return self.readout(self.embedding(tokens))


def test_a_classifier_without_attention_misses_the_threshold():
    """Per-token predictions (the layers skipped) stay near 0.35, far below the 0.9 required."""
    torch.set_num_threads(1)
    per_token = SimpleNamespace(TokenClassifier=_LayersSkipped, TransformerEncoderLayer=ref.TransformerEncoderLayer)
    accuracies = [_token_counts_accuracy(per_token, seed) for seed in range(2)]
    assert max(accuracies) < 0.5, accuracies


@pytest.mark.parametrize("additive", [False, True])
def test_trusted_attention_returns_the_reference_weights(additive):
    """The attention function the hidden tests patch in also returns the weights (a student's
    module may use them), for boolean and additive (0 / -inf) masks."""
    q, k, v = (torch.randn(2, 3, 5, 4, dtype=torch.float64) for _ in range(3))
    mask = masks(2, 5)[2].unsqueeze(1)  # (B, 1, N, N)
    given = torch.zeros(mask.shape, dtype=torch.float64).masked_fill(~mask, float("-inf")) if additive else mask
    out, weights = trusted_attention(q, k, v, given)
    expected_out, expected_weights = ref.scaled_dot_product_attention(q, k, v, mask)
    assert torch.allclose(out, expected_out) and torch.allclose(weights, expected_weights)


class _NoHeadsAttribute(ref.MultiHeadSelfAttention):
    """Correct attention whose heads live under another name (as a student may keep them)."""

    def __init__(self, d_model, num_heads, bias=True):
        super().__init__(d_model, num_heads, bias)
        self._heads = self.__dict__.pop("num_heads")

    def forward(self, x, mask=None):
        self.num_heads = self._heads
        try:
            return super().forward(x, mask)
        finally:
            del self.num_heads


@pytest.mark.parametrize("heads", [1, 2, 4])
def test_self_attention_like_finds_the_heads_by_behaviour(heads):
    """Without a `num_heads` attribute, the swap factory finds the head count by comparing the
    module with PyTorch's attention; the trusted part keeps the student's class and plain attributes."""
    old = _NoHeadsAttribute(8, heads)
    new = self_attention_like(old)
    assert isinstance(new, TrustedSelfAttention) and isinstance(new, _NoHeadsAttribute)
    assert new.num_heads == heads and new._heads == heads
    x = torch.randn(2, 5, 8)
    old.load_state_dict(new.state_dict())
    assert torch.allclose(new(x, masks(2, 5)[2]), old(x, masks(2, 5)[2]), atol=1e-6)


def test_encoder_layer_like_keeps_the_students_sizes():
    """The classifier's swap reads d, dim_feedforward, the heads and norm_first from the student's layer."""
    old = ref.TransformerEncoderLayer(8, 2, 24, norm_first=False)
    new = encoder_layer_like(old)
    assert isinstance(new, TrustedEncoderLayer) and isinstance(new, ref.TransformerEncoderLayer)
    assert (new.linear1.weight.shape, new.self_attn.num_heads, new.norm_first) == ((24, 8), 2, False)


class _PyTorchDropoutLayer(torch.nn.TransformerEncoderLayer):
    """PyTorch's encoder layer with the assignment's `forward(x, mask)`: its own dropout modules
    and its own feed-forward block (`_ff_block`), `dropout1` after the attention as in its `_sa_block`."""

    def __init__(self, d_model, num_heads, dim_feedforward, dropout=0.0, norm_first=True):
        super().__init__(d_model, num_heads, dim_feedforward, dropout=dropout, batch_first=True, norm_first=norm_first)
        self.self_attn = TrustedSelfAttention(d_model, num_heads)

    def forward(self, x, mask=None):
        def attention(h):
            return self.dropout1(self.self_attn(h, mask))

        if self.norm_first:
            x = x + attention(self.norm1(x))
            return x + self._ff_block(self.norm2(x))
        x = self.norm1(x + attention(x))
        return self.norm2(x + self._ff_block(x))


def _hidden_tests():
    spec = importlib.util.spec_from_file_location("attention_hidden_tests", HIDDEN)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_dropout_tests_pass_on_pytorchs_own_dropout():
    """The hidden dropout tests' claims about where nn.TransformerEncoderLayer drops (after the
    attention block, after the activation, after linear2; scaled by 1/(1-p)) hold for PyTorch's layer."""
    hidden = _hidden_tests()
    pytorch = LocalSubject(SimpleNamespace(TransformerEncoderLayer=_PyTorchDropoutLayer, MultiHeadSelfAttention=TrustedSelfAttention), "PyTorch")
    hidden.test_encoder_layer_dropout_is_off_in_eval_mode(REF, pytorch)
    hidden.test_encoder_layer_dropout_in_train_mode(REF, pytorch)


@pytest.mark.parametrize("make", [
    lambda n, device=None: torch.ones(n, n, dtype=torch.bool).tril().to(device),
    lambda n, device=None: torch.tril(torch.ones(n, n, device=torch.device(device) if device is not None else None)).bool(),
    lambda n, device=None: torch.ones(n, n, dtype=torch.bool, device=str(device)).tril(),
    lambda n, device=None: torch.arange(n, device=device)[:, None] >= torch.arange(n, device=device),
], ids=["moved", "converted", "as-string", "aranges"])
def test_causal_mask_device_is_seen_however_it_is_passed_on(make):
    """The causal mask test sees `device` reach torch, whichever way correct code passes it on."""
    made = LocalSubject(SimpleNamespace(causal_mask=make), "styles").run("causal_mask_on", n=4)
    assert made["device_calls"] and torch.equal(made["mask"], torch.ones(4, 4, dtype=torch.bool).tril())
