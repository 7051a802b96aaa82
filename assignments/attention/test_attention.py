"""Public tests of the attention assignment — run them with `nnzoo test attention`.

They check shapes, simple known values, and equality with PyTorch's own modules; the
hidden tests check every property more thoroughly (gradients, masks, symmetry, training).
"""

from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from autograder import checks
from autograder.worker.probes import Build
from autograder.worker.probes.attention import TrustedEncoderLayer, TrustedSelfAttention
from autograder.judge.subject import LocalSubject

PYTORCH = LocalSubject(SimpleNamespace(MultiHeadSelfAttention=TrustedSelfAttention, TransformerEncoderLayer=TrustedEncoderLayer),
                       label="PyTorch")


@pytest.mark.points(1)
@pytest.mark.property("equality with PyTorch")
def test_attention_output_matches_pytorch(submission):
    """scaled_dot_product_attention(q, k, v)[0] equals F.scaled_dot_product_attention(q, k, v)."""
    q, k, v = torch.randn(2, 4, 8), torch.randn(2, 6, 8), torch.randn(2, 6, 3)
    out = submission.run("run", call="scaled_dot_product_attention", args=(q, k, v), backward=False)["output"]
    checks.expect_close(out[0] if isinstance(out, (tuple, list)) else out, F.scaled_dot_product_attention(q, k, v),
                        "the attention output", "equality with PyTorch", hint="softmax(q k^T / sqrt(d_k)) @ v")


@pytest.mark.points(1)
@pytest.mark.property("causal mask")
def test_causal_mask_of_three(submission):
    """causal_mask(3) is [[T, F, F], [T, T, F], [T, T, T]]."""
    out = submission.run("run", call="causal_mask", args=(3,), backward=False)["output"]
    expected = torch.tensor([[True, False, False], [True, True, False], [True, True, True]])
    mask = checks.expect_tensor(out, "causal_mask(3)", "causal mask", shape=(3, 3), dtype=torch.bool, hint="torch.tril")
    if not torch.equal(mask, expected):
        checks.base.fail("causal mask", "causal_mask(3) has the wrong entries", "True on and below the diagonal")


@pytest.mark.points(1)
@pytest.mark.property("equality with PyTorch")
def test_self_attention_matches_nn_multihead_attention(submission):
    """Given nn.MultiheadAttention's weights, MultiHeadSelfAttention computes the same output."""
    checks.matches_reference(submission, PYTORCH, model=Build("MultiHeadSelfAttention", 8, 2), inputs=[(torch.randn(2, 5, 8),)],
                             dtypes=(torch.float32,), gradients=False, prop="equality with PyTorch",
                             hint="in_proj_weight holds W_q, W_k, W_v stacked; split d into heads of size d / num_heads")


@pytest.mark.points(1)
@pytest.mark.property("N tokens in, N out")
def test_self_attention_keeps_n_tokens(submission):
    """(B, N, d) → (B, N, d) for N = 1 and 7."""
    checks.shape_preserved(submission, model=Build("MultiHeadSelfAttention", 8, 2), make_args=lambda n: (torch.randn(2, n, 8),),
                           expected_shape=lambda n: (2, n, 8), sizes=(1, 7), prop="N tokens in, N out",
                           hint="one output per token, whatever the number of tokens")


@pytest.mark.points(1)
@pytest.mark.property("pre-norm layer")
def test_encoder_layer_matches_pytorch(submission):
    """Given nn.TransformerEncoderLayer's weights (norm_first=True), the layer computes the same output."""
    checks.matches_reference(submission, PYTORCH, model=Build("TransformerEncoderLayer", 8, 2, 16), inputs=[(torch.randn(2, 5, 8),)],
                             dtypes=(torch.float32,), gradients=False, prop="pre-norm layer",
                             hint="x + self_attn(norm1(x)), then + linear2(relu(linear1(norm2(x))))")


@pytest.mark.points(1)
@pytest.mark.property("token classifier")
def test_token_classifier_output_shape(submission):
    """TokenClassifier(10, 4) maps (B, N) token ids to (B, N, 4) logits."""
    checks.shape_preserved(submission, model=Build("TokenClassifier", 10, 4), make_args=lambda n: (torch.randint(0, 10, (3, n)),),
                           expected_shape=lambda n: (3, n, 4), sizes=(1, 12), prop="token classifier",
                           hint="embedding → layers → readout, per token")
