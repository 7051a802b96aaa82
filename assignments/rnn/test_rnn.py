"""Public tests of the rnn assignment — run them with `nnzoo test rnn`.

They compare your cells and your RNN with PyTorch's (given the same weights), and check
shapes and simple known values; the hidden tests check every property more thoroughly
(gradients through time, weight sharing, causality, the vanishing-gradient experiment,
training on a memory task).
"""

from types import SimpleNamespace

import pytest
import torch

from autograder import checks
from autograder.judge.subject import LocalSubject
from autograder.worker.probes import Build
from autograder.worker.probes.rnn import (
    TrustedGRUCell,
    TrustedLSTMCell,
    TrustedRNN,
    TrustedRNNCell,
)

#: PyTorch's own cells (behind this assignment's signatures), and those cells unrolled.
PYTORCH = LocalSubject(SimpleNamespace(RNNCell=TrustedRNNCell, LSTMCell=TrustedLSTMCell, GRUCell=TrustedGRUCell, RNN=TrustedRNN),
                       label="PyTorch")


@pytest.mark.points(1)
@pytest.mark.property("equality with nn.RNNCell")
def test_rnn_cell_matches_nn_rnn_cell(submission):
    """Given nn.RNNCell's weights, RNNCell computes the same h' and gradients (h=None and a given h; tanh and relu)."""
    for nonlinearity in ("tanh", "relu"):
        checks.matches_reference(submission, PYTORCH, model=Build("RNNCell", 3, 5, nonlinearity=nonlinearity),
                                 inputs=[(torch.randn(2, 3),), (torch.randn(2, 3), torch.randn(2, 5))],
                                 prop="equality with nn.RNNCell", hint=f"h' = {nonlinearity}(x W_ih^T + b_ih + h W_hh^T + b_hh)")


@pytest.mark.points(1)
@pytest.mark.property("equality with nn.LSTMCell")
def test_lstm_cell_matches_nn_lstm_cell(submission):
    """Given nn.LSTMCell's weights, LSTMCell computes the same (h', c') and gradients."""
    checks.matches_reference(submission, PYTORCH, model=Build("LSTMCell", 3, 5),
                             inputs=[(torch.randn(2, 3),), (torch.randn(2, 3), (torch.randn(2, 5), torch.randn(2, 5)))],
                             prop="equality with nn.LSTMCell", hint="gate order i, f, g, o; c' = f*c + i*g; h' = o*tanh(c')")


@pytest.mark.points(1)
@pytest.mark.property("equality with nn.GRUCell")
def test_gru_cell_matches_nn_gru_cell(submission):
    """Given nn.GRUCell's weights, GRUCell computes the same h' and gradients."""
    checks.matches_reference(submission, PYTORCH, model=Build("GRUCell", 3, 5),
                             inputs=[(torch.randn(2, 3),), (torch.randn(2, 3), torch.randn(2, 5))],
                             prop="equality with nn.GRUCell", hint="gate order r, z, n; r multiplies (W_hn h + b_hn)")


@pytest.mark.points(1)
@pytest.mark.property("unrolling through time")
def test_rnn_output_shapes(submission):
    """RNN(3, 5) maps (B, T, 3) to outputs (B, T, 5) for T = 1 and 8."""
    checks.shape_preserved(submission, model=Build("RNN", 3, 5, cell="gru"), make_args=lambda t: (torch.randn(2, t, 3),),
                           expected_shape=lambda t: (2, t, 5), sizes=(1, 8), prop="unrolling through time",
                           hint="return (torch.stack(outputs, dim=1), last_state)")


@pytest.mark.points(1)
@pytest.mark.property("unrolling through time")
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_rnn_matches_pytorch_cells_unrolled(submission, cell):
    """Given the same weights, RNN's (outputs, last_state) equal PyTorch's cell applied step by step."""
    checks.matches_reference(submission, PYTORCH, model=Build("RNN", 3, 5, cell=cell), inputs=[(torch.randn(2, 4, 3),)],
                             prop="unrolling through time",
                             hint="state = self.cell(x[:, t], state) for t = 0, 1, ...; outputs[:, t] is h after step t")


@pytest.mark.points(1)
@pytest.mark.property("gradient norms")
def test_gradient_norms_shape_and_last_entry(submission):
    """hidden_state_gradient_norms returns one norm per step, shape (T,), detached; the last is sqrt(B·H).

    dL/dh_{T-1} of L = h_{T-1}.sum() is a (B, H) matrix of ones, whose norm is sqrt(B·H).
    """
    prop, hint = "gradient norms", "one Frobenius norm of dL/dh_t per step, for L = outputs[:, -1].sum()"
    for T in (1, 6):
        result = submission.run("gradient_norms_experiment", model=Build("RNN", 3, 5), state_dict=None, x=torch.randn(2, T, 3))
        norms = checks.expect_tensor(result["norms"], f"the norms for T = {T}", prop, shape=(T,), dtype=torch.float32, hint=hint)
        if abs(float(norms[-1]) - 10 ** 0.5) > 1e-4:
            checks.base.fail(prop, f"the last norm is {float(norms[-1]):.4f}, expected sqrt(2·5) = 3.1623", hint)
        if not result["detached"]:
            checks.base.fail(prop, "the returned norms still require grad", "return a detached tensor")
        if not result["grads_kept"]:
            checks.base.fail(prop, "a parameter's .grad changed", "use torch.autograd.grad, which leaves .grad alone")


@pytest.mark.points(1)
@pytest.mark.property("sequence classifier")
def test_sequence_classifier_output_shape(submission):
    """SequenceClassifier(3, 8, 4) maps (B, T, 3) to (B, 4)."""
    checks.shape_preserved(submission, model=Build("SequenceClassifier", 3, 8, 4), make_args=lambda b: (torch.randn(b, 6, 3),),
                           expected_shape=lambda b: (b, 4), sizes=(1, 5), prop="sequence classifier", hint="readout of the last hidden state")
