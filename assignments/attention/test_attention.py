"""Public tests of the attention assignment — run them with `nnzoo test attention`.

They compare your code with PyTorch's own functions and modules, given the same weights,
and check the properties the lecture names; the hidden tests check them more thoroughly
(more shapes, gradients, symmetry, and a training run of your classifier).
"""

from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from autograder import checks
from autograder.checks.base import fail
from autograder.checks.dropout import post_norm_dropout_sites
from autograder.checks.symmetry import causal, permutation_equivariant
from autograder.data.token_counts import token_counts
from autograder.judge.subject import LocalSubject, Raised
from autograder.worker.probes import Build
from autograder.worker.probes.attention import (
    TrustedEncoderLayer,
    TrustedSelfAttention,
    on_trusted_parts,
    post_norm_weights_without_dropout,
)

PYTORCH = LocalSubject(SimpleNamespace(MultiHeadSelfAttention=TrustedSelfAttention, TransformerEncoderLayer=TrustedEncoderLayer),
                       label="PyTorch")



def randn(*shape, seed=0, dtype=torch.float64):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def some_mask(*shape, seed=0):
    """A random boolean mask in which every query may attend to its own position."""
    mask = torch.rand(*shape, generator=torch.Generator().manual_seed(seed)) > 0.5
    n = min(shape[-2:])
    mask[..., range(n), range(n)] = True
    return mask


def attention_of(submission, *args):
    out = submission.run("run", call="scaled_dot_product_attention", args=args, backward=False)["output"]
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        fail("equality with PyTorch", "scaled_dot_product_attention should return a pair (out, weights)", "return weights @ v, weights")
    return out


# -- scaled dot-product attention ------------------------------------------------------------

@pytest.mark.points(1)
@pytest.mark.property("equality with PyTorch")
@pytest.mark.forbid("torch.nn.functional.scaled_dot_product_attention")  # the point of the exercise: write it yourself
@pytest.mark.timeout(10)
def test_attention_output_matches_pytorch(submission):
    """scaled_dot_product_attention(q, k, v, mask)[0] equals F.scaled_dot_product_attention (float64
    and float32; no mask, an (N, M) and a (B, N, M) mask; a (B, 1, N, M) and an (H, N, M) mask for (B, H, N, d) inputs)."""
    prop, hint = "equality with PyTorch", "softmax(q k^T / sqrt(d_k)) over the keys, scores where the mask is False set to -inf BEFORE the softmax (True = may attend), then @ v; keep the input's dtype"
    q, k, v = randn(2, 4, 8), randn(2, 6, 8, seed=1), randn(2, 6, 3, seed=2)
    for mask in (None, some_mask(4, 6, seed=3), some_mask(2, 4, 6, seed=4)):
        for dtype in (torch.float64, torch.float32):
            args = tuple(t.to(dtype) for t in (q, k, v))
            out, _ = attention_of(submission, *args, mask)
            masked = "no mask" if mask is None else f"a {tuple(mask.shape)} mask"
            checks.expect_close(out, F.scaled_dot_product_attention(*args, attn_mask=mask), f"the output ({masked}, {dtype})", prop, hint=hint)
    # batch and head dimensions, one mask per batch element shared by the heads
    q, k, v, mask = randn(2, 3, 4, 8, seed=5), randn(2, 3, 6, 8, seed=6), randn(2, 3, 6, 3, seed=7), some_mask(2, 1, 4, 6, seed=8)
    out, _ = attention_of(submission, q, k, v, mask)
    checks.expect_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask), "the output (q of shape (2, 3, 4, 8), a (2, 1, 4, 6) mask)",
                        prop, hint=hint)
    # one mask per head, shared by the batch: a mask broadcasts from the last dim
    mask = some_mask(3, 4, 6, seed=9)
    out, _ = attention_of(submission, q, k, v, mask)
    checks.expect_close(out, F.scaled_dot_product_attention(q, k, v, attn_mask=mask), "the output (q of shape (2, 3, 4, 8), a (3, 4, 6) mask)",
                        prop, hint="a mask broadcasts with the scores (*, N, M) as any two tensors do, aligned from the last dim: never add a dim to it")


@pytest.mark.points(1)
@pytest.mark.property("attention weights")
@pytest.mark.timeout(10)
def test_attention_weights_are_distributions(submission):
    """The weights are a softmax over the allowed keys: rows sum to 1, masked keys get 0 — also where every score is about
    -14,000 (below any large negative number a mask could be filled with instead of -inf)."""
    prop, hint = "attention weights", "weights = softmax of the masked, scaled scores over the LAST dimension (the keys)"
    mask = some_mask(2, 5, 5, seed=5)
    for what, (q, k) in (("", (randn(2, 5, 8), randn(2, 5, 8, seed=1))),
                         (" where every score is about -14,000", (-5000 * torch.ones(2, 5, 8, dtype=torch.float64), 1 + 0.001 * randn(2, 5, 8, seed=3)))):
        v = randn(2, 5, 2, seed=2)
        _, weights = attention_of(submission, q, k, v, mask)
        weights = checks.expect_tensor(weights, "the weights", prop, shape=(2, 5, 5), dtype=torch.float64, hint=hint)
        if not torch.allclose(weights.sum(-1), torch.ones(2, 5, dtype=torch.float64)):
            fail(prop, f"rows of the weights do not sum to 1{what}", hint)
        if float(weights[~mask].abs().max()) != 0.0:
            fail(prop, f"masked keys get a non-zero weight{what}", hint + "; masked scores become -inf (a large negative number is not "
                                                                         "below every score)")
        scores = (q @ k.transpose(-2, -1) / 8 ** 0.5).masked_fill(~mask, float("-inf"))
        checks.expect_close(weights, scores.softmax(-1), f"the weights{what}", prop, hint=hint)


@pytest.mark.points(1)
@pytest.mark.property("causal mask")
@pytest.mark.timeout(10)
def test_causal_mask_of_three_and_of_forty(submission):
    """causal_mask(3) is [[T, F, F], [T, T, F], [T, T, T]], causal_mask(40) lower-triangular too, made on the device asked for."""
    prop, hint = "causal mask", "torch.tril of a boolean matrix of ones of size (n, n) for every n, created with device=device"
    out = submission.run("run", call="causal_mask", args=(3,), backward=False)["output"]
    mask = checks.expect_tensor(out, "causal_mask(3)", prop, shape=(3, 3), dtype=torch.bool, hint=hint)
    if not torch.equal(mask, torch.tensor([[True, False, False], [True, True, False], [True, True, True]])):
        fail(prop, "causal_mask(3) is not True exactly on and below the diagonal", hint)
    out = submission.run("run", call="causal_mask", args=(40,), backward=False)["output"]
    mask = checks.expect_tensor(out, "causal_mask(40)", prop, shape=(40, 40), dtype=torch.bool, hint=hint)
    if not torch.equal(mask, torch.ones(40, 40, dtype=torch.bool).tril()):
        fail(prop, "causal_mask(40) is not True exactly on and below the diagonal", hint)
    if not submission.run("causal_mask_on", n=3)["device_calls"]:
        fail(prop, "causal_mask(n, device) does not make its mask on `device` (the argument is never used)", hint)


# -- multi-head self-attention ---------------------------------------------------------------

def same_layout(submission, model, builtin, prop, hint):
    """The built-in's parameter names and shapes, and its weights load and come back unchanged."""
    expected = {n: list(p.shape) for n, p in builtin.named_parameters()}
    checks.parameters_like(submission, model, expected, prop=prop, hint=hint)
    weights = {n: t.detach().clone() for n, t in builtin.state_dict().items()}
    try:
        back = submission.run("run", model=model, state_dict=weights, call=".state_dict", backward=False)["output"]
    except (KeyError, RuntimeError) as exc:
        fail(prop, f"{model}: the weights of the PyTorch module do not load ({(str(exc).splitlines() or [''])[0]})", hint)
    if not set(weights) <= set(back) or any(not torch.equal(back[n], w) for n, w in weights.items()):
        fail(prop, f"{model}: the weights of the PyTorch module do not come back unchanged from state_dict()", hint)


@pytest.mark.points(1)
@pytest.mark.property("parameter layout")
@pytest.mark.timeout(10)
def test_self_attention_parameters_like_pytorch(submission):
    """MultiHeadSelfAttention has nn.MultiheadAttention's parameters, with and without bias."""
    for bias in (True, False):
        same_layout(submission, Build("MultiHeadSelfAttention", 8, 2, bias=bias), torch.nn.MultiheadAttention(8, 2, bias=bias),
                    "parameter layout", "in_proj_weight (3d, d), in_proj_bias (3d,), out_proj = nn.Linear(d, d, bias=bias); bias=False: no biases")


@pytest.mark.points(1)
@pytest.mark.property("equality with PyTorch")
@pytest.mark.timeout(10)
def test_self_attention_matches_nn_multihead_attention(submission):
    """Given nn.MultiheadAttention's weights, MultiHeadSelfAttention computes the same output and
    gradients: with and without bias, no mask, (N, N) and (B, N, N) masks, B = 1, an (N, N) mask with B = N."""
    hint = "in_proj_weight holds W_q, W_k, W_v stacked; split d into heads of size d / num_heads; the same mask for every head (True = may attend)"
    cases = [(randn(2, 5, 8), None), (randn(2, 5, 8), some_mask(5, 5, seed=1)), (randn(2, 5, 8), some_mask(2, 5, 5, seed=2)),
             (randn(1, 5, 8, seed=3), None), (randn(3, 3, 8, seed=4), some_mask(3, 3, seed=5))]  # B = N: an (N, N) mask is no (B, N, N) one
    for bias in (True, False):
        checks.matches_reference(submission, PYTORCH, model=Build("MultiHeadSelfAttention", 8, 4, bias=bias), inputs=cases,
                                 dtypes=(torch.float64,), prop="equality with PyTorch", hint=hint)


@pytest.mark.points(1)
@pytest.mark.property("N tokens in, N out")
@pytest.mark.timeout(10)
def test_self_attention_keeps_n_tokens(submission):
    """(B, N, d) → (B, N, d) for N = 1 and 7, B = 1 and 2."""
    for batch in (1, 2):
        checks.shape_preserved(submission, model=Build("MultiHeadSelfAttention", 8, 2), make_args=lambda n: (torch.randn(batch, n, 8),),
                               expected_shape=lambda n: (batch, n, 8), sizes=(1, 7), prop="N tokens in, N out",
                               hint="one output per token, whatever the number of tokens; never squeeze a dimension of size 1")


@pytest.mark.points(1)
@pytest.mark.property("causality")
@pytest.mark.timeout(10)
def test_self_attention_is_causal(submission):
    """With a causal mask, output i does not depend on tokens after i."""
    causal(submission, model=Build("MultiHeadSelfAttention", 8, 2), args=(randn(2, 6, 8),), kwargs={"mask": torch.ones(6, 6, dtype=torch.bool).tril()},
           prop="causality", hint="pass the mask to every head's attention (True = may attend)")


# -- encoder layer ---------------------------------------------------------------------------

@pytest.mark.points(1)
@pytest.mark.property("parameter layout")
@pytest.mark.timeout(10)
def test_encoder_layer_parameters_like_pytorch(submission):
    """TransformerEncoderLayer has nn.TransformerEncoderLayer's submodules and parameters."""
    same_layout(submission, Build("TransformerEncoderLayer", 8, 2, 16), torch.nn.TransformerEncoderLayer(8, 2, 16, batch_first=True),
                "parameter layout", "self_attn, linear1 (d → ff), linear2 (ff → d), norm1, norm2")


def _layer_matches(submission, norm_first, prop, hint):
    cases = [(randn(2, 5, 8), None), (randn(2, 5, 8), torch.ones(5, 5, dtype=torch.bool).tril()), (randn(2, 5, 8), some_mask(2, 5, 5, seed=3)),
             (randn(1, 5, 8, seed=1), None)]
    model = Build("TransformerEncoderLayer", 8, 2, 16, norm_first=norm_first)
    submission.run("run", model=model, args=cases[0], dtype=torch.float64, backward=False)  # the forward pass alone runs
    trained = submission.run("run", model=model, args=cases[0], dtype=torch.float64, allow_error=True)  # and a backward pass
    if isinstance(trained, Raised):
        fail(prop, f"the forward pass runs, but the backward pass raised {trained.types[0]}: {trained.message[:160]}",
             "a layer must train: an in-place operation (x += …, inplace=True) overwrites a value the backward pass needs — write x = x + …")
    checks.matches_reference(submission, PYTORCH, model=model, inputs=cases, dtypes=(torch.float64,), prop=prop, hint=hint)
    # linear1's weight scaled by 10: the feed-forward activation's inputs reach well past 6
    sd = PYTORCH.run("state_dict", model=model, dtype=torch.float64)["state_dict"]
    sd = {**sd, "linear1.weight": 10 * sd["linear1.weight"]}
    request = dict(model=model, state_dict=sd, args=(randn(2, 5, 8, seed=4),), dtype=torch.float64)
    checks.expect_close(submission.run("eval_mode_output", **request)["output"], PYTORCH.run("eval_mode_output", **request)["output"],
                        "the output with linear1's weight scaled by 10 (the feed-forward activation's inputs far from 0)", prop, hint=hint)


@pytest.mark.points(1)
@pytest.mark.property("pre-norm layer")
@pytest.mark.timeout(10)
def test_encoder_layer_matches_pytorch(submission):
    """norm_first=True: given nn.TransformerEncoderLayer's weights, the same output and gradients, with and without masks and
    with the feed-forward block far from 0; a layer built without norm_first is pre-norm too."""
    prop = "pre-norm layer"
    _layer_matches(submission, True, prop, "x + self_attn(norm1(x), mask), then + linear2(relu(linear1(norm2(x))))")
    pre = Build("TransformerEncoderLayer", 8, 2, 16, norm_first=True)
    sd, x = PYTORCH.run("state_dict", model=pre, dtype=torch.float64)["state_dict"], randn(2, 5, 8, seed=5)
    out = submission.run("eval_mode_output", model=Build("TransformerEncoderLayer", 8, 2, 16), state_dict=sd, args=(x,), dtype=torch.float64)
    checks.expect_close(out["output"], PYTORCH.run("eval_mode_output", model=pre, state_dict=sd, args=(x,), dtype=torch.float64)["output"],
                        "the output of TransformerEncoderLayer(8, 2, 16), built without norm_first", prop,
                        hint="keep the signature's default, norm_first=True: a layer built without it is pre-norm")


@pytest.mark.points(1)
@pytest.mark.property("post-norm layer")
@pytest.mark.timeout(10)
def test_post_norm_layer_matches_pytorch(submission):
    """norm_first=False: given nn.TransformerEncoderLayer's weights, the same output and gradients, with and without masks and
    with the feed-forward block far from 0."""
    _layer_matches(submission, False, "post-norm layer", "x = norm1(x + self_attn(x, mask)); x = norm2(x + linear2(relu(linear1(x))))")


@pytest.mark.points(1)
@pytest.mark.property("dropout")
@pytest.mark.timeout(10)
def test_encoder_layer_dropout(submission):
    """dropout=0.25: a no-op in eval mode (PyTorch's output); in train mode (a backward pass too) it drops a share of
    the attention block's output and scales the rest by 1/(1-p), as nn.TransformerEncoderLayer does;
    post-norm, it never drops a norm's output, and drops the blocks where pre-norm does."""
    prop, hint = "dropout", "nn.Dropout(p) after the attention block, after the activation, after linear2; active only in train mode"
    model = Build("TransformerEncoderLayer", 8, 2, 16, dropout=0.25)
    sd = PYTORCH.run("state_dict", model=model, dtype=torch.float64)["state_dict"]
    x = randn(3, 6, 8)

    def eval_mode(subject, weights):
        out = subject.run("eval_mode_output", model=model, state_dict=weights, args=(x,), dtype=torch.float64)["output"]
        return checks.expect_tensor(out, "the output in eval mode", prop, shape=x.shape, hint=hint)

    checks.expect_close(eval_mode(submission, sd), eval_mode(PYTORCH, sd), "the output in eval mode (dropout off)", prop,
                        hint="the layer itself differs from PyTorch's: the pre-norm layer test above says where; fix it first")
    # only the attention block left (linear2 = 0): each entry of its output is dropped or scaled by 1/(1-p)
    attention_only = dict(sd, **{"linear2.weight": torch.zeros(8, 16, dtype=torch.float64), "linear2.bias": torch.zeros(8, dtype=torch.float64)})
    block = eval_mode(PYTORCH, attention_only) - x
    out = submission.run("run", model=model, state_dict=attention_only, dtype=torch.float64, args=(x,), allow_error=True)  # and a backward pass
    if isinstance(out, Raised):
        fail(prop, f"in train mode, the forward or backward pass raised {out.types[0]}: {out.message[:160]}",
             "the layer must train with dropout on: use nn.Dropout(p), not in place (inplace=True overwrites a value the backward pass needs)")
    change = checks.expect_tensor(out["output"], "the output in train mode", prop, shape=x.shape, hint=hint) - x
    dropped = torch.isclose(change, torch.zeros_like(change), atol=1e-9)
    if bool(dropped.all()) or torch.allclose(change, block):
        fail(prop, "in train mode, dropout=0.25 drops nothing of the attention block's output", hint)
    if not torch.allclose(change[~dropped], block[~dropped] / 0.75):
        fail(prop, "in train mode, the attention block's output is not dropped entry by entry with the rest scaled by 1/(1-p)", hint)
    # post-norm: nn.TransformerEncoderLayer never drops a norm's output (its scale 0: its output is its bias)
    post = Build("TransformerEncoderLayer", 8, 2, 16, dropout=0.25, norm_first=False)
    post_sd = PYTORCH.run("state_dict", model=post, dtype=torch.float64)["state_dict"]
    for norm, weights in post_norm_weights_without_dropout(post_sd, 8, 16).items():
        expected = PYTORCH.run("eval_mode_output", model=post, state_dict=weights, args=(x,), dtype=torch.float64)["output"]
        out = submission.run("run", model=post, state_dict=weights, dtype=torch.float64, args=(x,), backward=False)["output"]
        checks.expect_close(out, expected, f"the post-norm output in train mode, with {norm}'s scale 0 (its output its bias)", prop,
                            hint="dropout acts inside the blocks, before each residual sum — never on the output of norm1 or norm2")

    def post_norm_train_mode(weights):
        out = submission.run("run", model=post, state_dict=weights, dtype=torch.float64, args=(x,), backward=False)["output"]
        return checks.expect_tensor(out, "the post-norm output in train mode", prop, shape=x.shape, hint=hint)

    # post-norm, the blocks are dropped as pre-norm: each token read through the norms that follow
    post_norm_dropout_sites(post_norm_train_mode, post_sd, x, 0.25, prop)


# -- token classifier ------------------------------------------------------------------------

CLASSIFIER = Build("TokenClassifier", 10, 4, d_model=8, num_heads=2, num_layers=3, dim_feedforward=16)


@pytest.mark.points(1)
@pytest.mark.property("parameter layout")
@pytest.mark.timeout(10)
def test_token_classifier_structure(submission):
    """TokenClassifier(10, 4, d_model=8, num_heads=2, num_layers=3, dim_feedforward=16): embedding,
    3 layers like nn.TransformerEncoderLayer(8, 2, 16), readout."""
    layer = {n: list(p.shape) for n, p in torch.nn.TransformerEncoderLayer(8, 2, 16, batch_first=True).named_parameters()}
    expected = {"embedding.weight": [10, 8], "readout.weight": [4, 8], "readout.bias": [4],
                **{f"layers.{i}.{n}": s for i in range(3) for n, s in layer.items()}}
    checks.parameters_like(submission, CLASSIFIER, expected, prop="parameter layout",
                           hint="embedding = nn.Embedding(vocab, d), layers = num_layers layers (d, num_heads, dim_feedforward), readout = nn.Linear(d, classes)")


class _PyTorchClassifier(torch.nn.Module):
    """nn.Embedding, nn.TransformerEncoderLayer (pre-norm) and nn.Linear — the oracle of the next test."""

    def __init__(self) -> None:
        super().__init__()
        self.embedding = torch.nn.Embedding(10, 8)
        self.layers = torch.nn.ModuleList(TrustedEncoderLayer(8, 2, 16, norm_first=True) for _ in range(3))
        self.readout = torch.nn.Linear(8, 4)

    def forward(self, tokens):
        h = self.embedding(tokens)
        for block in self.layers:
            h = block(h)
        return self.readout(h)


@pytest.mark.points(1)
@pytest.mark.property("token classifier")
@pytest.mark.timeout(10)
def test_token_classifier_matches_pytorch(submission):
    """With its own weights in PyTorch's modules, TokenClassifier computes the same logits: (B, N)
    token ids → (B, N, 4), also for B = 1 and N = 1."""
    prop, hint = "token classifier", "embedding → every layer → readout on every token; no positions, no final norm; keep the batch and token dimensions"
    weights = submission.run("state_dict", model=CLASSIFIER)["state_dict"]
    oracle = _PyTorchClassifier()
    oracle.load_state_dict({name: weights[name] for name in oracle.state_dict()})  # a private buffer of yours stays yours
    for shape in ((3, 7), (1, 7), (3, 1)):
        tokens = torch.randint(0, 10, shape, generator=torch.Generator().manual_seed(0))
        out = submission.run("run", model=CLASSIFIER, state_dict=weights, args=(tokens,), backward=False)["output"]
        with torch.no_grad():
            checks.expect_close(out, oracle(tokens), f"the logits for {shape} token ids", prop, hint=hint)


@pytest.mark.points(1)
@pytest.mark.property("permutation equivariance")
@pytest.mark.timeout(10)
def test_token_classifier_is_permutation_equivariant(submission):
    """Permuting the tokens permutes the per-token logits."""
    tokens = torch.randint(0, 10, (2, 9), generator=torch.Generator().manual_seed(1))
    permutation_equivariant(submission, model=CLASSIFIER, args=(tokens,), prop="permutation equivariance",
                            hint="no positional information: a token's logits depend on which tokens are present, not where")


@pytest.mark.points(1)
@pytest.mark.property("accuracy on a set task")
@pytest.mark.trains
@pytest.mark.timeout(60)
def test_token_classifier_learns_token_counts(submission):
    """Trained by the grader's loop (on PyTorch's layers), TokenClassifier learns to label each
    token by how often it occurs in its sequence (held-out accuracy ≥ 0.9 here)."""
    prop, hint = "accuracy on a set task", "embedding → layers → readout on every token, every parameter registered"
    tokens, labels = token_counts(2000, seed=10)
    eval_tokens, eval_labels = token_counts(300, seed=11)
    model, patch = on_trusted_parts(Build("TokenClassifier", 6, 4, d_model=32, num_heads=4, num_layers=1, dim_feedforward=32))
    sd = submission.run("state_dict", model=model, patch=patch)["state_dict"]
    result = submission.run("train_token_classifier", model=model, state_dict=sd, tokens=tokens, labels=labels, steps=300, lr=5e-3, patch=patch)
    logits = checks.evaluated_output(submission, model=model, weights=checks.trained_weights(result, prop, hint), args=(eval_tokens,),
                                     prop=prop, hint=hint)
    checks.reaches(checks.accuracy_of(logits, eval_labels), 0.9, "held-out per-token accuracy", prop, hint)
