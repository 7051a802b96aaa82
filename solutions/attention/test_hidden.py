"""Hidden tests of the attention assignment (instructor-only).

Tests of a larger module swap in PyTorch-backed pieces for the smaller ones (`patch=`),
so a bug costs the points of the piece it is in; the accuracy test trains the whole
student model, end to end.
"""

import pytest
import torch

from autograder import checks
from autograder.checks.symmetry import causal, permutation_equivariant
from autograder.data.token_counts import token_counts
from autograder.worker.probes import Build

SDPA = ("torch.nn.functional.scaled_dot_product_attention",)
MHA = ("torch.nn.MultiheadAttention", "torch.nn.functional.multi_head_attention_forward")
LAYER = ("torch.nn.TransformerEncoderLayer", "torch.nn.TransformerEncoder")
TRUSTED_SDPA = {"scaled_dot_product_attention": "autograder.worker.probes.attention:trusted_attention"}
TRUSTED_MHSA = {"MultiHeadSelfAttention": "autograder.worker.probes.attention:TrustedSelfAttention"}
TRUSTED_LAYER = {"TransformerEncoderLayer": "autograder.worker.probes.attention:TrustedEncoderLayer"}


def randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def random_mask(*shape, seed=0):
    """A boolean mask where every query may attend to at least its own position."""
    mask = torch.rand(*shape, generator=torch.Generator().manual_seed(seed)) > 0.4
    n = min(shape[-2:])
    mask[..., range(n), range(n)] = True
    return mask


# -- scaled dot-product attention ------------------------------------------------------------

@pytest.mark.points(2)
@pytest.mark.property("equality with PyTorch")
@pytest.mark.forbid(*SDPA)
def test_attention_matches_reference(reference, submission):
    """Outputs, weights and gradients equal the reference: batch dims, M != N, broadcast masks."""
    cases = [
        (randn(2, 5, 8), randn(2, 7, 8, seed=1), randn(2, 7, 3, seed=2)),
        (randn(1, 1, 4), randn(1, 1, 4, seed=1), randn(1, 1, 4, seed=2)),
        (randn(2, 3, 4, 8), randn(2, 3, 6, 8, seed=1), randn(2, 3, 6, 5, seed=2), random_mask(4, 6)),
        (randn(2, 5, 8), randn(2, 5, 8, seed=1), randn(2, 5, 8, seed=2), random_mask(2, 5, 5, seed=3)),
    ]
    checks.matches_reference(submission, reference, model=None, call="scaled_dot_product_attention",
                             inputs=cases, grad_args=(0, 1, 2), prop="equality with PyTorch",
                             hint="softmax(q k^T / sqrt(d_k)) over the keys (last dim), masked scores set to -inf before the softmax, then weights @ v")


@pytest.mark.points(1)
@pytest.mark.property("attention weights")
@pytest.mark.forbid(*SDPA)
def test_attention_weights_are_distributions(submission):
    """Each row of the weights sums to 1, and masked positions get weight exactly 0."""
    prop, hint = "attention weights", "a softmax over the keys gives rows that sum to 1; -inf scores give weight 0"
    mask = random_mask(3, 6, 6, seed=4)
    out = submission.run("run", call="scaled_dot_product_attention", backward=False,
                         args=(randn(3, 6, 8), randn(3, 6, 8, seed=1), randn(3, 6, 2, seed=2), mask))["output"]
    if not isinstance(out, (tuple, list)) or len(out) != 2:
        checks.base.fail(prop, "scaled_dot_product_attention should return (out, weights)", hint)
    weights = checks.expect_tensor(out[1], "the weights", prop, shape=(3, 6, 6), hint=hint)
    if not torch.allclose(weights.sum(-1), torch.ones(3, 6, dtype=weights.dtype)):
        checks.base.fail(prop, "rows of the attention weights do not sum to 1", hint)
    if float(weights[~mask].abs().max()) != 0.0:
        checks.base.fail(prop, "masked positions get a non-zero weight", hint)


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
    """causal_mask(n) is a boolean (n, n) tensor, True on and below the diagonal."""
    prop, hint = "causal mask", "torch.tril of a boolean matrix of ones"
    for n in (1, 4, 9):
        out = submission.run("run", call="causal_mask", args=(n,), backward=False)["output"]
        mask = checks.expect_tensor(out, f"causal_mask({n})", prop, shape=(n, n), dtype=torch.bool, hint=hint)
        if not torch.equal(mask, torch.ones(n, n, dtype=torch.bool).tril()):
            checks.base.fail(prop, f"causal_mask({n}) is not True exactly on and below the diagonal", hint)


# -- multi-head self-attention ---------------------------------------------------------------

@pytest.mark.points(1)
@pytest.mark.property("parameter layout")
@pytest.mark.forbid(*MHA)
def test_self_attention_parameters_like_pytorch(submission):
    """Parameter names and shapes equal nn.MultiheadAttention's (with and without bias)."""
    for bias in (True, False):
        expected = {n: list(p.shape) for n, p in torch.nn.MultiheadAttention(8, 2, bias=bias, batch_first=True).named_parameters()}
        checks.parameters_like(submission, Build("MultiHeadSelfAttention", 8, 2, bias=bias), expected, patch=TRUSTED_SDPA,
                               prop="parameter layout", hint="in_proj_weight (3d, d), in_proj_bias (3d,), out_proj = nn.Linear(d, d)")


@pytest.mark.points(2)
@pytest.mark.property("equality with PyTorch")
@pytest.mark.forbid(*MHA)
def test_self_attention_matches_reference(reference, submission):
    """Outputs and gradients equal the reference: 1 and 4 heads, no mask, (N, N) and (B, N, N) masks."""
    for heads in (1, 4):
        model = Build("MultiHeadSelfAttention", 8, heads)
        for mask in (None, random_mask(5, 5, seed=1), random_mask(2, 5, 5, seed=2)):
            checks.matches_reference(submission, reference, model=model, inputs=[(randn(2, 5, 8), mask)], patch=TRUSTED_SDPA,
                                     prop="equality with PyTorch",
                                     hint="q, k, v = rows [0:d], [d:2d], [2d:3d] of in_proj; head h uses features [h*d/H:(h+1)*d/H]; concatenate heads in order before out_proj")


@pytest.mark.points(1)
@pytest.mark.property("N tokens in, N out")
@pytest.mark.forbid(*MHA)
def test_self_attention_keeps_n_tokens_with_the_same_weights(reference, submission):
    """The same weights map (B, N, d) to (B, N, d) for N = 1, 2, 7, 64; the parameters do not depend on N."""
    prop, hint = "N tokens in, N out", "every token is projected with the same weights; nothing may depend on the number of tokens"
    model = Build("MultiHeadSelfAttention", 8, 2)
    sd = checks.reference_state_dict(reference, model, torch.float64, patch=TRUSTED_SDPA)
    shapes = None
    for n in (1, 2, 7, 64):
        result = submission.run("run", model=model, state_dict=sd, dtype=torch.float64, args=(randn(3, n, 8),), patch=TRUSTED_SDPA)
        checks.output_tensor(result, f"the output for {n} tokens", prop, shape=(3, n, 8), hint=hint)
        if shapes is not None and result["param_shapes"] != shapes:
            checks.base.fail(prop, f"the parameters changed with the number of tokens ({n})", hint)
        shapes = result["param_shapes"]


@pytest.mark.points(1)
@pytest.mark.property("permutation equivariance")
@pytest.mark.forbid(*MHA)
def test_self_attention_is_permutation_equivariant(submission):
    """Without positional information, permuting the tokens permutes the outputs."""
    permutation_equivariant(submission, model=Build("MultiHeadSelfAttention", 8, 2), args=(randn(2, 6, 8).float(),), patch=TRUSTED_SDPA,
                            prop="permutation equivariance", hint="self-attention treats its input as a set: use no token positions or indices")


@pytest.mark.points(1)
@pytest.mark.property("causality")
@pytest.mark.forbid(*MHA)
def test_self_attention_is_causal_with_a_causal_mask(reference, submission):
    """With causal_mask(N), output i neither changes nor has a gradient when tokens after i change."""
    model = Build("MultiHeadSelfAttention", 8, 2)
    sd = checks.reference_state_dict(reference, model, torch.float64, patch=TRUSTED_SDPA)
    causal(submission, model=model, state_dict=sd, args=(randn(2, 6, 8),), kwargs={"mask": torch.ones(6, 6, dtype=torch.bool).tril()},
           patch=TRUSTED_SDPA, prop="causality", hint="pass the mask to every head's attention (True = may attend)")


# -- encoder layer ---------------------------------------------------------------------------

@pytest.mark.points(1)
@pytest.mark.property("parameter layout")
@pytest.mark.forbid(*LAYER)
def test_encoder_layer_parameters_like_pytorch(submission):
    """Submodule and parameter names equal nn.TransformerEncoderLayer's."""
    expected = {n: list(p.shape) for n, p in torch.nn.TransformerEncoderLayer(8, 2, 16, batch_first=True).named_parameters()}
    checks.parameters_like(submission, Build("TransformerEncoderLayer", 8, 2, 16), expected, patch=TRUSTED_MHSA,
                           prop="parameter layout", hint="self_attn, linear1 (d → ff), linear2 (ff → d), norm1, norm2")


@pytest.mark.points(2)
@pytest.mark.property("pre-norm layer")
@pytest.mark.forbid(*LAYER)
def test_pre_norm_layer_matches_reference(reference, submission):
    """norm_first=True: outputs and gradients equal the reference: no mask, (N, N) and (B, N, N) masks."""
    for mask in (None, torch.ones(5, 5, dtype=torch.bool).tril(), random_mask(2, 5, 5, seed=5)):
        checks.matches_reference(submission, reference, model=Build("TransformerEncoderLayer", 8, 2, 16, norm_first=True),
                                 inputs=[(randn(2, 5, 8), mask)], patch=TRUSTED_MHSA, prop="pre-norm layer",
                                 hint="x = x + self_attn(norm1(x), mask); x = x + linear2(relu(linear1(norm2(x))))")


@pytest.mark.points(1)
@pytest.mark.property("post-norm layer")
@pytest.mark.forbid(*LAYER)
def test_post_norm_layer_matches_reference(reference, submission):
    """norm_first=False: outputs and gradients equal the reference, with and without a mask."""
    for mask in (None, torch.ones(5, 5, dtype=torch.bool).tril()):
        checks.matches_reference(submission, reference, model=Build("TransformerEncoderLayer", 8, 2, 16, norm_first=False),
                                 inputs=[(randn(2, 5, 8), mask)], patch=TRUSTED_MHSA, prop="post-norm layer",
                                 hint="x = norm1(x + self_attn(x, mask)); x = norm2(x + feed_forward(x))")


@pytest.mark.points(1)
@pytest.mark.property("permutation equivariance")
@pytest.mark.forbid(*LAYER)
def test_encoder_layer_is_permutation_equivariant(submission):
    """Permuting the tokens permutes the layer's outputs."""
    permutation_equivariant(submission, model=Build("TransformerEncoderLayer", 8, 2, 16), args=(randn(2, 6, 8).float(),),
                            patch=TRUSTED_MHSA, prop="permutation equivariance", hint="layer norm and the feed-forward block act on each token alone")


# -- token classifier ------------------------------------------------------------------------

@pytest.mark.points(1)
@pytest.mark.property("parameter layout")
def test_token_classifier_structure(reference, submission):
    """embedding, layers (num_layers encoder layers), readout — with the reference's parameter shapes."""
    model = Build("TokenClassifier", 10, 4, d_model=8, num_heads=2, num_layers=3, dim_feedforward=16)
    expected = reference.run("state_dict", model=model, patch=TRUSTED_LAYER)["param_shapes"]
    checks.parameters_like(submission, model, expected, patch=TRUSTED_LAYER, prop="parameter layout",
                           hint="embedding = nn.Embedding(vocab, d), layers = nn.ModuleList of num_layers layers, readout = nn.Linear(d, classes)")


@pytest.mark.points(1)
@pytest.mark.property("token classifier")
def test_token_classifier_matches_reference(reference, submission):
    """Logits and gradients equal the reference's: embed, every layer, read out each token."""
    checks.matches_reference(submission, reference, model=Build("TokenClassifier", 10, 4, d_model=8, num_heads=2, num_layers=2, dim_feedforward=16),
                             inputs=[(torch.randint(0, 10, (3, 7), generator=torch.Generator().manual_seed(0)),)], dtypes=(None,),
                             grad_args=(), patch=TRUSTED_LAYER, prop="token classifier",
                             hint="no positional encoding and no final norm: embedding → layers → readout on every token")


@pytest.mark.points(1)
@pytest.mark.property("permutation equivariance")
def test_token_classifier_is_permutation_equivariant(submission):
    """Without positional encoding, permuting the tokens permutes the per-token logits."""
    tokens = torch.randint(0, 10, (2, 9), generator=torch.Generator().manual_seed(1))
    permutation_equivariant(submission, model=Build("TokenClassifier", 10, 4, d_model=8, num_heads=2, num_layers=2, dim_feedforward=16),
                            args=(tokens,), patch=TRUSTED_LAYER, prop="permutation equivariance",
                            hint="the classifier must not add positions: a token's logits depend on which tokens are present, not where")


@pytest.mark.points(3)
@pytest.mark.property("accuracy on a set task")
def test_token_classifier_learns_token_counts(reference, submission):
    """Trained by the grader, your TokenClassifier labels each token by how often it occurs (≥ 90%)."""
    tokens, labels = token_counts(2000, seed=0)
    eval_tokens, eval_labels = token_counts(500, seed=1)
    model = Build("TokenClassifier", 6, 4, d_model=32, num_heads=4, num_layers=1, dim_feedforward=64)
    sd = checks.reference_state_dict(reference, model)
    result = submission.run("train_token_classifier", model=model, state_dict=sd, tokens=tokens, labels=labels,
                            eval_tokens=eval_tokens, steps=300, lr=3e-3)
    prop, hint = "accuracy on a set task", "each token must see the whole sequence: attention over all tokens, residual connections, per-token read-out"
    logits = checks.expect_tensor(result["logits"], "the trained model's logits", prop, shape=(500, 10, 4), hint=hint)
    acc = float((logits.argmax(-1) == eval_labels).double().mean())
    if acc < 0.9:
        checks.base.fail(prop, f"held-out per-token accuracy {acc:.2f} is below the required 0.90 (without attention ≈ 0.34)", hint)
