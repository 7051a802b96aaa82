"""Hidden tests of the attention assignment (instructor-only).

Every test grades one property, on the student's own objects.  A bug costs the points of
the piece it is in: tests of `MultiHeadSelfAttention` patch in a trusted attention function
(a module function; a correct student who binds it at import time keeps their own, correct,
one), and tests of the encoder layer and the classifier put PyTorch's own parts into the
BUILT model where SPEC keeps them (`self_attn`, every layer of `layers`), with the sizes the
student's code chose (`on_trusted_parts`).

The judge decides, never a flag from the worker: outputs and gradients are compared with
the reference's, run in the judge; relations (equivariance, causality, dropout) are checked
on the raw outputs, and anchored on the reference's values where the student's outputs let
them be (attention weights ranked as the reference's, dropout's kept values equal to the
reference's eval-mode values); parameter layouts are read through two probes; the trained
classifier comes back as weights that the judge evaluates on the reference with PyTorch's
layers, on held-out tokens the worker never sees (see `docs/threat-model.md`).
"""

import pytest
import torch

from autograder import checks
from autograder.checks import verdicts
from autograder.checks.base import fail
from autograder.checks.dropout import post_norm_dropout_sites
from autograder.checks.symmetry import causal, permutation_equivariant
from autograder.data.token_counts import token_counts
from autograder.judge.subject import Raised, restart
from autograder.worker.probes import Build
from autograder.worker.probes.attention import TRUSTED_ATTENTION, on_trusted_parts, post_norm_weights_without_dropout

SDPA = ("torch.nn.functional.scaled_dot_product_attention",)
MHA = ("torch.nn.MultiheadAttention", "torch.nn.functional.multi_head_attention_forward")
LAYER = ("torch.nn.TransformerEncoderLayer", "torch.nn.TransformerEncoder")
P_DROP = 0.25  # not 0.5: mistaking the drop probability for the keep probability must show


def randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def random_mask(*shape, seed=0):
    """A boolean mask where every query may attend to at least its own position."""
    mask = torch.rand(*shape, generator=torch.Generator().manual_seed(seed)) > 0.4
    n = min(shape[-2:])
    mask[..., range(n), range(n)] = True
    return mask


def causal_of(n, batch=None):
    mask = torch.ones(n, n, dtype=torch.bool).tril()
    return mask if batch is None else mask.expand(batch, n, n).clone()


def own_parts(*names):
    """The parts a composite is built of, as `checks.composed_of_its_own_parts` checks them
    first: "sdpa" (the function), "attention" (MultiHeadSelfAttention), "layer" (a pre-norm
    TransformerEncoderLayer) — each on the student's own smaller parts, and the test that
    grades it."""
    q, k, v = randn(2, 5, 4, seed=11), randn(2, 5, 4, seed=12), randn(2, 5, 4, seed=13)
    # each graded on the trusted parts below it: right on its own when those tests passed too
    tests = ("test_attention_matches_reference", "test_self_attention_matches_reference", "test_pre_norm_layer_matches_reference")
    parts = {"sdpa": dict(model=None, call="scaled_dot_product_attention", inputs=[(q, k, v, causal_of(5))], tests=tests[:1]),
             "attention": dict(model=Build("MultiHeadSelfAttention", 8, 2), inputs=[(randn(2, 5, 8, seed=14), causal_of(5))],
                               tests=tests[:2]),
             "layer": dict(model=Build("TransformerEncoderLayer", 8, 2, 16), inputs=[(randn(2, 5, 8, seed=15), None)], tests=tests)}
    return [parts[name] for name in names]


def same_layout(submission, model, weights, *, prop, hint, patch=None):
    """`weights` (a built-in's or the reference's state_dict, float32) load strictly into
    `model` and come back unchanged: the layout seen through a second probe (`run`), so
    that a forged report of the parameter names alone does not pass.  A buffer of the
    student's own (a private constant) may come back too; a parameter may not."""
    result = submission.run("run", model=model, state_dict=weights, call=".state_dict", backward=False, patch=patch,
                            allow_error=True)
    if isinstance(result, Raised):
        fail(prop, f"{model}: the PyTorch layout's weights do not load ({result.types[0]}: {(result.message.splitlines() or [''])[0][:200]})", hint)
    back = result["output"]
    if not isinstance(back, dict) or not set(weights) <= set(back) or (set(back) - set(weights)) & set(result["param_shapes"]):
        fail(prop, f"{model}: state_dict() after loading the PyTorch layout's weights has other parameters", hint)
    for name, value in weights.items():
        got = checks.expect_tensor(back[name], f"`{name}` after loading", prop, shape=value.shape, finite=False, bool_ok=True, hint=hint)
        if not torch.equal(got.to(value.dtype), value):
            fail(prop, f"{model}: `{name}` did not come back as it was loaded", hint)


# -- scaled dot-product attention ------------------------------------------------------------

@pytest.mark.points(2)
@pytest.mark.property("equality with PyTorch")
@pytest.mark.forbid(*SDPA)
def test_attention_matches_reference(reference, submission):
    """Outputs, weights and gradients equal the reference: no batch dims, batch dims, M != N,
    N = M = 1, broadcast masks (one per batch element, shared by the heads: (B, 1, N, M); one per
    head, shared by the batch: (H, N, M))."""
    cases = [
        (randn(2, 5, 8), randn(2, 7, 8, seed=1), randn(2, 7, 3, seed=2)),
        (randn(5, 8, seed=3), randn(7, 8, seed=4), randn(7, 3, seed=5), random_mask(5, 7, seed=6)),
        (randn(1, 1, 4), randn(1, 1, 4, seed=1), randn(1, 1, 4, seed=2)),
        (randn(2, 3, 4, 8), randn(2, 3, 6, 8, seed=1), randn(2, 3, 6, 5, seed=2), random_mask(4, 6)),
        (randn(2, 5, 8), randn(2, 5, 8, seed=1), randn(2, 5, 8, seed=2), random_mask(2, 5, 5, seed=3)),
        (randn(2, 3, 4, 8, seed=7), randn(2, 3, 6, 8, seed=8), randn(2, 3, 6, 5, seed=9), random_mask(2, 1, 4, 6, seed=10)),
        (randn(2, 3, 4, 8, seed=11), randn(2, 3, 6, 8, seed=12), randn(2, 3, 6, 5, seed=13), random_mask(3, 4, 6, seed=14)),
    ]
    checks.matches_reference(submission, reference, model=None, call="scaled_dot_product_attention",
                             inputs=cases, grad_args=(0, 1, 2), prop="equality with PyTorch",
                             hint="softmax(q k^T / sqrt(d_k)) over the keys (last dim), scores where the mask is False (True = may attend) set to -inf before the softmax, then weights @ v; "
                                  "the mask broadcasts with the scores as any two tensors do (aligned from the last dim)")


@pytest.mark.points(1)
@pytest.mark.property("attention weights")
@pytest.mark.forbid(*SDPA)
def test_attention_weights_are_distributions(reference, submission):
    """Each row of the weights is a distribution over the allowed keys (sums to 1, masked
    positions exactly 0) that ranks the keys by their score q·k, as the reference's does —
    also where every allowed score is about -14,000 (a mask filled with a large negative
    number instead of -inf then lets the masked keys win)."""
    prop, hint = "attention weights", "a softmax over the keys of the masked scores: rows sum to 1, -inf scores give weight 0, a larger q·k a larger weight"
    mask = random_mask(3, 6, 6, seed=4)
    far_below = (-5000 * torch.ones(3, 6, 8, dtype=torch.float64), 1 + 0.001 * randn(3, 6, 8, seed=3))  # scores ≈ -14,142
    for what, args in (("", (randn(3, 6, 8), randn(3, 6, 8, seed=1), randn(3, 6, 2, seed=2), mask)),
                       (" where every score is about -14,000", (*far_below, randn(3, 6, 2, seed=2), mask))):
        out = submission.run("run", call="scaled_dot_product_attention", backward=False, args=args)["output"]
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            fail(prop, "scaled_dot_product_attention should return (out, weights)", hint)
        weights = checks.expect_tensor(out[1], "the weight matrix", prop, shape=(3, 6, 6), dtype=torch.float64, hint=hint)
        if not torch.allclose(weights.sum(-1), torch.ones(3, 6, dtype=weights.dtype)):
            fail(prop, f"rows of the attention weights do not sum to 1{what}", hint)
        if float(weights[~mask].abs().max()) != 0.0:
            fail(prop, f"masked positions get a non-zero weight{what}", hint + " (not a large negative number: any score can be below it)")
        if float(weights.min()) < 0.0:
            fail(prop, f"some attention weights are negative{what}", hint)
        expected = reference.run("run", call="scaled_dot_product_attention", backward=False, args=args)["output"][1]
        ranks = torch.argsort(weights.masked_fill(~mask, -1.0), dim=-1, stable=True)
        if not torch.equal(ranks, torch.argsort(expected.masked_fill(~mask, -1.0), dim=-1, stable=True)):
            fail(prop, f"the weights do not rank the keys by their score q·k{what}", hint)


@pytest.mark.points(1)
@pytest.mark.property("scaling")
@pytest.mark.forbid(*SDPA)
def test_attention_is_scaled_by_sqrt_dk(reference, submission):
    """With d_k = 64 the 1/sqrt(d_k) scaling changes the weights a lot; they must equal the reference's."""
    q, k = randn(2, 4, 64, seed=5), randn(2, 6, 64, seed=6)
    checks.matches_reference(submission, reference, model=None, call="scaled_dot_product_attention",
                             inputs=[(q, k, randn(2, 6, 3, seed=7))], dtypes=(torch.float64,), gradients=False,
                             prop="scaling", hint="divide the scores by sqrt(d_k), the size of the last dimension of q")


@pytest.mark.points(1)
@pytest.mark.property("causal mask")
def test_causal_mask_is_lower_triangular(submission):
    """causal_mask(n) is a boolean (n, n) tensor, True on and below the diagonal, on `device` — for any n (1 to 200 here)."""
    prop, hint = "causal mask", "torch.tril of a boolean matrix of ones of size (n, n) for every n, made on `device`"
    for n in (1, 4, 9, 33, 200):
        out = submission.run("run", call="causal_mask", args=(n,), backward=False)["output"]
        mask = checks.expect_tensor(out, f"causal_mask({n})", prop, shape=(n, n), dtype=torch.bool, hint=hint)
        if not torch.equal(mask, torch.ones(n, n, dtype=torch.bool).tril()):
            fail(prop, f"causal_mask({n}) is not True exactly on and below the diagonal", hint)
    made = submission.run("causal_mask_on", n=3)
    mask = checks.expect_tensor(made["mask"], "causal_mask(3, device=...)", prop, shape=(3, 3), dtype=torch.bool, hint=hint)
    if not torch.equal(mask, torch.ones(3, 3, dtype=torch.bool).tril()):
        fail(prop, "causal_mask(3, device=...) is not True exactly on and below the diagonal", hint)
    if not (isinstance(made["device_calls"], list) and made["device_calls"]):  # (a list of the calls: another value answers nothing)
        fail(prop, "causal_mask(n, device) does not make its mask on `device` (the argument is never used)", hint)


# -- multi-head self-attention ---------------------------------------------------------------

@pytest.mark.points(1)
@pytest.mark.property("parameter layout")
@pytest.mark.forbid(*MHA)
def test_self_attention_parameters_like_pytorch(submission):
    """Parameter names and shapes equal nn.MultiheadAttention's (with and without bias), and
    its weights load and come back unchanged."""
    prop, hint = "parameter layout", "in_proj_weight (3d, d), in_proj_bias (3d,), out_proj = nn.Linear(d, d); with bias=False no biases at all"
    for bias in (True, False):
        builtin = torch.nn.MultiheadAttention(8, 2, bias=bias, batch_first=True)
        model = Build("MultiHeadSelfAttention", 8, 2, bias=bias)
        checks.parameters_like(submission, model, {n: list(p.shape) for n, p in builtin.named_parameters()}, prop=prop, hint=hint)
        same_layout(submission, model, {n: t.detach().clone() for n, t in builtin.state_dict().items()}, prop=prop, hint=hint)


@pytest.mark.points(2)
@pytest.mark.property("equality with PyTorch")
@pytest.mark.forbid(*MHA)
def test_self_attention_matches_reference(reference, submission):
    """Outputs and gradients equal the reference: 1 and 4 heads, with and without bias, no
    mask, (N, N) and (B, N, N) masks, B = 1 and N = 1, an (N, N) mask with B = N."""
    hint = ("q, k, v = rows [0:d], [d:2d], [2d:3d] of in_proj; head h uses features [h*d/H:(h+1)*d/H]; "
            "concatenate heads in order before out_proj; the same mask for every head")
    cases = [(randn(2, 5, 8), None), (randn(2, 5, 8), random_mask(5, 5, seed=1)), (randn(2, 5, 8), random_mask(2, 5, 5, seed=2)),
             (randn(1, 5, 8, seed=3), random_mask(1, 5, 5, seed=4)), (randn(1, 1, 8, seed=5), None),
             (randn(3, 3, 8, seed=6), random_mask(3, 3, seed=7))]  # B = N: an (N, N) mask is no (B, N, N) one
    for heads in (1, 4):
        checks.matches_reference(submission, reference, model=Build("MultiHeadSelfAttention", 8, heads), inputs=cases,
                                 patch=TRUSTED_ATTENTION, prop="equality with PyTorch", hint=hint)
    checks.matches_reference(submission, reference, model=Build("MultiHeadSelfAttention", 8, 2, bias=False), inputs=cases[::2],
                             patch=TRUSTED_ATTENTION, prop="equality with PyTorch", hint=hint + "; bias=False: no bias anywhere")
    checks.composed_of_its_own_parts(submission, reference, model=Build("MultiHeadSelfAttention", 8, 2), inputs=cases[1:2],
                                     parts=own_parts("sdpa"), prop="equality with PyTorch", hint=hint)


@pytest.mark.points(1)
@pytest.mark.property("N tokens in, N out")
@pytest.mark.forbid(*MHA)
def test_self_attention_keeps_n_tokens_with_the_same_weights(reference, submission):
    """The same weights map (B, N, d) to (B, N, d) for N = 1, 2, 7, 64 (B = 1 and 3); the
    parameters do not depend on N; and the output is computed with those weights (a constant
    or the input itself keeps every shape and shows nothing of the layer)."""
    prop, hint = "N tokens in, N out", "every token is projected with the same weights; nothing may depend on the number of tokens (or squeeze a dimension of size 1)"
    model = Build("MultiHeadSelfAttention", 8, 2)
    sd = checks.reference_state_dict(reference, model, torch.float64, patch=TRUSTED_ATTENTION)
    shapes = None
    for b, n in ((3, 1), (1, 1), (1, 2), (3, 7), (1, 64)):
        result = submission.run("run", model=model, state_dict=sd, dtype=torch.float64, args=(randn(b, n, 8),), patch=TRUSTED_ATTENTION)
        checks.output_tensor(result, f"the output for {n} tokens (batch of {b})", prop, shape=(b, n, 8), hint=hint)
        if shapes is not None and result["param_shapes"] != shapes:
            fail(prop, f"the parameters changed with the number of tokens ({n})", hint)
        shapes = result["param_shapes"]
    checks.depends_on_weights(submission, model=model, args=(randn(3, 7, 8),), state_dict=sd, patch=TRUSTED_ATTENTION,
                              prop=prop, hint=hint)


@pytest.mark.points(1)
@pytest.mark.property("permutation equivariance")
@pytest.mark.forbid(*MHA)
def test_self_attention_is_permutation_equivariant(submission):
    """Without positional information, permuting the tokens permutes the outputs."""
    permutation_equivariant(submission, model=Build("MultiHeadSelfAttention", 8, 2), args=(randn(2, 6, 8).float(),), patch=TRUSTED_ATTENTION,
                            prop="permutation equivariance", hint="self-attention treats its input as a set: use no token positions or indices")


@pytest.mark.points(1)
@pytest.mark.property("causality")
@pytest.mark.forbid(*MHA)
def test_self_attention_is_causal_with_a_causal_mask(reference, submission):
    """With a causal mask, (N, N) or (B, N, N), output i neither changes nor has a gradient
    when tokens after i change: N = 6, and N = 20 (causal at every length, not only at the
    other tests' short sequences)."""
    model = Build("MultiHeadSelfAttention", 8, 2)
    sd = checks.reference_state_dict(reference, model, torch.float64, patch=TRUSTED_ATTENTION)
    for mask, positions in ((causal_of(6), (0, 2)), (causal_of(6, batch=2), (0, 2)), (causal_of(20, batch=2), (0, 2, 15))):
        n = mask.shape[-1]
        causal(submission, model=model, state_dict=sd, args=(randn(2, n, 8),), kwargs={"mask": mask}, positions=positions,
               patch=TRUSTED_ATTENTION, prop="causality", hint="pass the mask to every head's attention (True = may attend)")


# -- encoder layer ---------------------------------------------------------------------------

def layer_on_trusted_attention(submission, *args, **kwargs):
    """The student's TransformerEncoderLayer with PyTorch's attention as `self_attn`, and its patch."""
    return on_trusted_parts(Build("TransformerEncoderLayer", *args, **kwargs), submission)


@pytest.mark.points(1)
@pytest.mark.property("parameter layout")
@pytest.mark.forbid(*LAYER)
def test_encoder_layer_parameters_like_pytorch(submission):
    """Submodule and parameter names equal nn.TransformerEncoderLayer's, and its weights load
    and come back unchanged."""
    prop, hint = "parameter layout", "self_attn, linear1 (d → ff), linear2 (ff → d), norm1, norm2"
    builtin = torch.nn.TransformerEncoderLayer(8, 2, 16, batch_first=True)
    model, patch = layer_on_trusted_attention(submission, 8, 2, 16)
    checks.parameters_like(submission, model, {n: list(p.shape) for n, p in builtin.named_parameters()}, patch=patch, prop=prop, hint=hint)
    same_layout(submission, model, {n: t.detach().clone() for n, t in builtin.state_dict().items()}, patch=patch, prop=prop, hint=hint)


def feed_forward_far_from_zero(reference, submission, model, patch, prop, hint):
    """The eval-mode output equals the reference's with `linear1`'s weight scaled by 10: the
    feed-forward block's pre-activations (of normalised tokens, otherwise about N(0, 0.6))
    reach well past 6, so an activation clipped there (ReLU6) shows."""
    sd = checks.reference_state_dict(reference, model, torch.float64, 0, patch)
    sd = {**sd, "linear1.weight": 10 * sd["linear1.weight"]}
    x = randn(2, 5, 8, seed=9)
    request = dict(model=model, state_dict=sd, args=(x, None), dtype=torch.float64, patch=patch)
    expected = reference.run("eval_mode_output", **request)["output"]
    checks.expect_close(submission.run("eval_mode_output", **request)["output"], expected,
                        "the output with linear1's weight scaled by 10 (the feed-forward activation's inputs far from 0)", prop, hint=hint)


@pytest.mark.points(2)
@pytest.mark.property("pre-norm layer")
@pytest.mark.forbid(*LAYER)
def test_pre_norm_layer_matches_reference(reference, submission):
    """norm_first=True: outputs and gradients equal the reference: no mask, (N, N) and
    (B, N, N) masks, B = 1 and N = 1, a feed-forward block far from 0; the heads passed on
    to self_attn; a layer built without norm_first is pre-norm (the default)."""
    cases = [(randn(2, 5, 8), None), (randn(2, 5, 8), causal_of(5)), (randn(2, 5, 8), random_mask(2, 5, 5, seed=5)),
             (randn(1, 5, 8, seed=1), random_mask(1, 5, 5, seed=6)), (randn(1, 1, 8, seed=2), None)]
    model, patch = layer_on_trusted_attention(submission, 8, 2, 16, norm_first=True)
    hint = "x = x + self_attn(norm1(x), mask); x = x + linear2(relu(linear1(norm2(x)))); self_attn with num_heads heads"
    checks.matches_reference(submission, reference, model=model, inputs=cases, patch=patch, prop="pre-norm layer", hint=hint)
    feed_forward_far_from_zero(reference, submission, model, patch, "pre-norm layer", hint)
    checks.composed_of_its_own_parts(submission, reference, model=model, inputs=cases[1:2], parts=own_parts("sdpa", "attention"),
                                     prop="pre-norm layer", hint=hint)
    default, patch = layer_on_trusted_attention(submission, 8, 2, 16)
    checks.matches_reference(submission, reference, model=default, inputs=cases[:1], dtypes=(torch.float64,), patch=patch,
                             prop="pre-norm layer", hint="a layer built as TransformerEncoderLayer(8, 2, 16) is pre-norm: keep the "
                                                         "signature's default, norm_first=True")


@pytest.mark.points(1)
@pytest.mark.property("post-norm layer")
@pytest.mark.forbid(*LAYER)
def test_post_norm_layer_matches_reference(reference, submission):
    """norm_first=False: outputs and gradients equal the reference: no mask, (N, N) and
    (B, N, N) masks, B = 1, a feed-forward block far from 0."""
    cases = [(randn(2, 5, 8), None), (randn(2, 5, 8), causal_of(5)), (randn(2, 5, 8), random_mask(2, 5, 5, seed=7)),
             (randn(1, 5, 8, seed=1), None)]
    model, patch = layer_on_trusted_attention(submission, 8, 2, 16, norm_first=False)
    hint = "x = norm1(x + self_attn(x, mask)); x = norm2(x + feed_forward(x))"
    checks.matches_reference(submission, reference, model=model, inputs=cases, patch=patch, prop="post-norm layer", hint=hint)
    feed_forward_far_from_zero(reference, submission, model, patch, "post-norm layer", hint)
    checks.composed_of_its_own_parts(submission, reference, model=model, inputs=cases[1:2], parts=own_parts("sdpa", "attention"),
                                     prop="post-norm layer", hint=hint)


@pytest.mark.points(1)
@pytest.mark.property("permutation equivariance")
@pytest.mark.forbid(*LAYER)
def test_encoder_layer_is_permutation_equivariant(submission):
    """Permuting the tokens permutes the layer's outputs."""
    model, patch = layer_on_trusted_attention(submission, 8, 2, 16)
    permutation_equivariant(submission, model=model, args=(randn(2, 6, 8).float(),), patch=patch,
                            prop="permutation equivariance", hint="layer norm and the feed-forward block act on each token alone")


def _eval_output(subject, model, patch, sd, x, mask, seed=0):
    out = subject.run("eval_mode_output", model=model, state_dict=sd, args=(x, mask), dtype=torch.float64, patch=patch, seed=seed)["output"]
    return checks.expect_tensor(out, "the output in eval mode", "dropout", shape=x.shape, dtype=torch.float64, hint="")


@pytest.mark.points(1)
@pytest.mark.property("dropout")
@pytest.mark.forbid(*LAYER)
def test_encoder_layer_dropout_is_off_in_eval_mode(reference, submission):
    """In eval mode, dropout > 0 changes nothing: the output equals the layer's own train-mode
    output with dropout=0, pre-norm and post-norm — an output that the layer computes with its
    weights (a constant equals itself in every mode)."""
    prop, hint = "dropout", "nn.Dropout (or F.dropout(..., training=self.training)) drops only in train mode; eval mode computes what train mode computes without dropout"
    x, mask = randn(2, 5, 8), causal_of(5)
    for norm_first in (True, False):
        model, patch = layer_on_trusted_attention(submission, 8, 2, 16, dropout=P_DROP, norm_first=norm_first)
        sd = checks.reference_state_dict(reference, model, torch.float64, patch=patch)
        without, _ = layer_on_trusted_attention(submission, 8, 2, 16, dropout=0.0, norm_first=norm_first)
        train_mode = submission.run("run", model=without, state_dict=sd, dtype=torch.float64, args=(x, mask), backward=False, patch=patch)
        expected = checks.output_tensor(train_mode, "the train-mode output with dropout=0", prop, shape=x.shape, dtype=torch.float64, hint=hint)
        restart(submission)  # a fresh worker: an output kept from the train-mode call cannot be given back as the eval-mode one
        checks.expect_close(_eval_output(submission, model, patch, sd, x, mask), expected,
                            f"(norm_first={norm_first}) the eval-mode output with dropout={P_DROP}, against the train-mode output with dropout=0,", prop, hint=hint)
        checks.depends_on_weights(submission, model=without, args=(x, mask), state_dict=sd, patch=patch, prop=prop, hint=hint)


def _kept_or_dropped(actual, kept, prop, what, hint):
    """Each entry of `actual` is 0 (dropped) or equal to the same entry of one of `kept`; returns
    the share of entries matching each candidate (dropped first)."""
    candidates = [torch.zeros_like(actual), *kept]
    hits = torch.stack([torch.isclose(actual, c, rtol=1e-7, atol=1e-9) for c in candidates])  # (K, ...)
    if not bool(hits.any(0).all()):
        fail(prop, f"in train mode, {what} is neither dropped (0) nor kept and scaled by 1/(1-p) where nn.TransformerEncoderLayer applies dropout", hint)
    first = hits.int().argmax(0)  # the first candidate each entry equals
    return [float((first == i).double().mean()) for i in range(len(candidates))]


def _no_dropout_after_a_norm(reference, submission, prop, hint):
    """Post-norm, for a layer that is otherwise right: the output of neither norm is dropped."""
    model, patch = layer_on_trusted_attention(submission, 8, 2, 16, dropout=P_DROP, norm_first=False)
    sd = checks.reference_state_dict(reference, model, torch.float64, patch=patch)
    x = randn(4, 8, 8, seed=2)
    for norm, weights in post_norm_weights_without_dropout(sd, 8, 16).items():
        expected = _eval_output(reference, model, patch, weights, x, None)
        if not torch.allclose(_eval_output(submission, model, patch, weights, x, None), expected):
            return  # another bug of the layer: the post-norm test costs it
        for seed in (0, 1):
            out = submission.run("run", model=model, state_dict=weights, dtype=torch.float64, args=(x,), backward=False, patch=patch, seed=seed)
            if not torch.allclose(checks.output_tensor(out, "the output", prop, shape=x.shape, dtype=torch.float64, hint=hint), expected):
                fail(prop, f"(norm_first=False) in train mode the output of {norm} is dropped: nn.TransformerEncoderLayer "
                           "drops only inside the blocks, before each residual sum, never a norm's output", hint)


def _post_norm_dropout_acts_where_pytorch_drops(reference, submission, prop, hint):
    """Post-norm, for a layer that is otherwise right, on weights chosen by the judge: the
    blocks are dropped where nn.TransformerEncoderLayer drops them, read through the norms."""
    model, patch = layer_on_trusted_attention(submission, 8, 2, 16, dropout=P_DROP, norm_first=False)
    sd = checks.reference_state_dict(reference, model, torch.float64, patch=patch)
    x = randn(2, 4, 8, seed=3)
    if not verdicts.passed("test_post_norm_layer_matches_reference") and \
            not torch.allclose(_eval_output(submission, model, patch, sd, x, None), _eval_output(reference, model, patch, sd, x, None)):
        return  # another bug of the layer: the post-norm test costs it
    for seed in (0, 1):
        def run(weights):
            out = submission.run("run", model=model, state_dict=weights, dtype=torch.float64, args=(x,), backward=False, patch=patch, seed=seed)
            return checks.output_tensor(out, "the output", prop, shape=x.shape, dtype=torch.float64, hint=hint)
        post_norm_dropout_sites(run, sd, x, P_DROP, prop)


@pytest.mark.points(1)
@pytest.mark.property("dropout")
@pytest.mark.forbid(*LAYER)
def test_encoder_layer_dropout_in_train_mode(reference, submission):
    """In train mode dropout is active (pre-norm and post-norm) and the layer can be trained (a backward pass), and, for a layer that is
    otherwise right, it acts where nn.TransformerEncoderLayer applies it: on the attention
    block's output, after the activation and after the second linear (each kept value scaled
    by 1/(1-p), a share p dropped), pre-norm and post-norm (read through the norms); post-norm,
    never on a norm's output."""
    prop = "dropout"
    hint = "dropout(self_attn(...)) before the residual sum; linear2(dropout(relu(linear1(h)))) followed by another dropout; nn.Dropout(p) in train mode"
    x, mask = randn(2, 5, 8), causal_of(5)
    for norm_first in (True, False):
        model, patch = layer_on_trusted_attention(submission, 8, 2, 16, dropout=P_DROP, norm_first=norm_first)
        sd = checks.reference_state_dict(reference, model, torch.float64, patch=patch)
        # with a backward pass: a layer trains with its dropout on (an in-place dropout overwrites what backward needs)
        out = submission.run("run", model=model, state_dict=sd, dtype=torch.float64, args=(x, mask), patch=patch, allow_error=True)
        if isinstance(out, Raised):
            layer_test = f"test_{'pre' if norm_first else 'post'}_norm_layer_matches_reference"
            plain, plain_patch = layer_on_trusted_attention(submission, 8, 2, 16, dropout=0.0, norm_first=norm_first)
            if not verdicts.passed(layer_test) and isinstance(submission.run("run", model=plain, state_dict=sd, dtype=torch.float64,
                                                                             args=(x, mask), patch=plain_patch, allow_error=True), Raised):
                # the layer cannot train without dropout either (its own test costs that): dropout is seen in forward passes alone
                out = submission.run("run", model=model, state_dict=sd, dtype=torch.float64, args=(x, mask), patch=patch, backward=False,
                                     allow_error=True)
        if isinstance(out, Raised):
            fail(prop, f"(norm_first={norm_first}) in train mode, the forward or backward pass raised {out.types[0]}: {out.message[:160]}",
                 "the layer must train with dropout on: use nn.Dropout(p), not in place (inplace=True overwrites a value the backward pass needs)")
        out = checks.expect_tensor(out["output"], "the output in train mode", prop, shape=x.shape, dtype=torch.float64, hint=hint)
        if torch.allclose(out, _eval_output(submission, model, patch, sd, x, mask, seed=1)):  # another seed: no equal masks by chance
            fail(prop, f"(norm_first={norm_first}) with dropout={P_DROP} the train-mode output equals the eval-mode output: dropout is not applied", hint)

    _no_dropout_after_a_norm(reference, submission, prop, hint)
    _post_norm_dropout_acts_where_pytorch_drops(reference, submission, prop, hint)
    # Where dropout acts (pre-norm), on weights chosen by the judge, once the layer is otherwise the reference's.
    model, patch = layer_on_trusted_attention(submission, 8, 2, 16, dropout=P_DROP, norm_first=True)
    sd = checks.reference_state_dict(reference, model, torch.float64, patch=patch)
    x = randn(4, 8, 8, seed=1)
    if not verdicts.passed("test_pre_norm_layer_matches_reference") and \
            not torch.allclose(_eval_output(submission, model, patch, sd, x, None), _eval_output(reference, model, patch, sd, x, None)):
        return  # another bug of the layer: the pre-norm test costs it; dropout was seen to act above
    scale = 1.0 / (1.0 - P_DROP)
    attention_only = dict(sd, **{"linear2.weight": torch.zeros(8, 16, dtype=torch.float64), "linear2.bias": torch.zeros(8, dtype=torch.float64)})
    feed_forward_only = dict(sd, **{
        "self_attn.out_proj.weight": torch.zeros(8, 8, dtype=torch.float64), "self_attn.out_proj.bias": torch.zeros(8, dtype=torch.float64),
        "linear1.weight": torch.eye(16, 8, dtype=torch.float64), "linear1.bias": torch.full((16,), 3.0, dtype=torch.float64),
        "linear2.weight": torch.eye(8, 16, dtype=torch.float64), "linear2.bias": torch.full((8,), 0.5, dtype=torch.float64)})
    for seed in (0, 1):
        branch = _eval_output(reference, model, patch, attention_only, x, None) - x  # the attention block's output
        out = submission.run("run", model=model, state_dict=attention_only, dtype=torch.float64, args=(x,), backward=False, patch=patch, seed=seed)
        dropped, kept = _kept_or_dropped(checks.output_tensor(out, "the output", prop, shape=x.shape, dtype=torch.float64, hint=hint) - x, [scale * branch],
                                         prop, "the attention block's output", hint)
        if not 0.12 <= dropped <= 0.40:
            fail(prop, f"in train mode a share {dropped:.2f} of the attention block's output is dropped, for dropout={P_DROP}", hint)
        # linear1 copies norm2's output (+3 > 0, past the ReLU) to 8 units; linear2 reads them back (+0.5)
        hidden = _eval_output(reference, model, patch, feed_forward_only, x, None) - x - 0.5
        out = submission.run("run", model=model, state_dict=feed_forward_only, dtype=torch.float64, args=(x,), backward=False, patch=patch, seed=seed)
        dropped, bias_only, both_kept = _kept_or_dropped(checks.output_tensor(out, "the output", prop, shape=x.shape, dtype=torch.float64, hint=hint) - x,
                                                         [scale * torch.full_like(x, 0.5), scale * (scale * hidden + 0.5)],
                                                         prop, "the feed-forward block's output", hint)
        if not (0.12 <= dropped <= 0.40 and bias_only >= 0.06 and both_kept >= 0.35):
            fail(prop, "in train mode the feed-forward block is not dropped once after the activation and once after the second linear", hint)


# -- token classifier ------------------------------------------------------------------------

def classifier_on_trusted_layers(*args, **kwargs):
    """The student's TokenClassifier with PyTorch's layers in `layers`, and its patch — always: built by the classifier's own
    arguments, a trusted layer shows what the classifier passes on, not what the student's layer passes to its attention."""
    return on_trusted_parts(Build("TokenClassifier", *args, **kwargs))


@pytest.mark.points(1)
@pytest.mark.property("parameter layout")
def test_token_classifier_structure(reference, submission):
    """embedding, layers (num_layers encoder layers of d_model, num_heads, dim_feedforward),
    readout — the reference's parameter shapes, with the defaults and with other sizes."""
    prop, hint = "parameter layout", "embedding = nn.Embedding(vocab, d), layers = nn.ModuleList of num_layers layers (d, heads, ff), readout = nn.Linear(d, classes)"
    for kwargs in ({}, {"d_model": 8, "num_heads": 2, "num_layers": 3, "dim_feedforward": 16}):
        model, patch = classifier_on_trusted_layers(10, 4, **kwargs)
        expected = reference.run("state_dict", model=model, patch=patch)
        checks.parameters_like(submission, model, expected["param_shapes"], patch=patch, prop=prop, hint=hint)
        same_layout(submission, model, expected["state_dict"], patch=patch, prop=prop, hint=hint)


@pytest.mark.points(1)
@pytest.mark.property("token classifier")
def test_token_classifier_matches_reference(reference, submission):
    """Logits and gradients equal the reference's (float64 and float32; B = 1 and N = 1 too):
    embed, every layer (built with num_heads, dim_feedforward), read out each token."""
    model, patch = classifier_on_trusted_layers(10, 4, d_model=8, num_heads=2, num_layers=3, dim_feedforward=16)
    gen = torch.Generator().manual_seed(0)
    cases = [(torch.randint(0, 10, shape, generator=gen),) for shape in ((3, 7), (1, 7), (3, 1), (1, 1))]
    hint = ("no positional encoding and no final norm: embedding → layers (each built with d_model, num_heads, dim_feedforward and no more: no dropout) → "
            "readout on every token; keep the batch and token dimensions")
    checks.matches_reference(submission, reference, model=model, inputs=cases, grad_args=(), patch=patch, prop="token classifier", hint=hint)
    checks.composed_of_its_own_parts(submission, reference, model=model, inputs=cases[:1], parts=own_parts("sdpa", "attention", "layer"),
                                     grad_args=(), prop="token classifier", hint=hint)


@pytest.mark.points(1)
@pytest.mark.property("permutation equivariance")
def test_token_classifier_is_permutation_equivariant(submission):
    """Without positional encoding, permuting the tokens permutes the per-token logits (in eval mode, as the classifier predicts:
    a dropout it should not have costs the equality test alone)."""
    tokens = torch.randint(0, 10, (2, 9), generator=torch.Generator().manual_seed(1))
    model, patch = classifier_on_trusted_layers(10, 4, d_model=8, num_heads=2, num_layers=2, dim_feedforward=16)
    permutation_equivariant(submission, model=model, args=(tokens,), patch=patch, inference=True, prop="permutation equivariance",
                            hint="the classifier must not add positions: a token's logits depend on which tokens are present, not where")


@pytest.mark.points(3)
@pytest.mark.property("accuracy on a set task")
@pytest.mark.trains
def test_token_classifier_learns_token_counts(reference, submission):
    """Trained by the grader (your TokenClassifier on PyTorch's layers), it labels each token by
    how often it occurs: ≥ 90% on held-out sequences, judged on the trained weights.  They
    must be the weights of the student's classifier: with them, it computes the reference's
    logits (float64, on training tokens), so weights trained on any other model gain nothing."""
    prop, hint = "accuracy on a set task", "embedding → layers → readout on every token, with every parameter registered (trained by the grader's optimiser)"
    tokens, labels = token_counts(2000, seed=0)
    eval_tokens, eval_labels = token_counts(500, seed=1)
    model, patch = classifier_on_trusted_layers(6, 4, d_model=32, num_heads=4, num_layers=1, dim_feedforward=32)
    sd = checks.reference_state_dict(reference, model, patch=patch)
    result = submission.run("train_token_classifier", model=model, state_dict=sd, tokens=tokens, labels=labels, steps=200, lr=5e-3, patch=patch)
    weights = checks.trained_weights(result, prop, hint)
    logits = checks.evaluated_output(reference, model=model, weights=weights, args=(eval_tokens,), prop=prop, hint=hint)
    if tuple(logits.shape) != (500, 10, 4):
        fail(prop, f"the trained model's output has shape {tuple(logits.shape)}, expected (500, 10, 4)", hint)
    checks.reaches(checks.accuracy_of(logits, eval_labels), 0.9, "held-out per-token accuracy (without attention ≈ 0.35)", prop, hint)
    # the weights must be those of the student's classifier: its own logits with them are the reference's
    checks.training.expect_own_logits(submission, reference, model=model, weights=weights, args=(tokens[:32],), patch=patch, prop=prop,
                                      hint="the classifier must be embedding → layers → readout of your TokenClassifier, the model "
                                           "the grader trained")
