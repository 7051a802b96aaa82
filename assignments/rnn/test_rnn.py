"""Public tests of the rnn assignment — run them with `nnzoo test rnn`.

They compare your cells with PyTorch's and check shapes; the hidden tests check
gradients through time, causality, the vanishing-gradient experiment and training.
"""

from types import SimpleNamespace

import pytest
import torch

from autograder import checks
from autograder.probes import Build
from autograder.subject import LocalSubject

PYTORCH = LocalSubject(SimpleNamespace(RNNCell=torch.nn.RNNCell, LSTMCell=torch.nn.LSTMCell, GRUCell=torch.nn.GRUCell), label="PyTorch")


@pytest.mark.points(1)
@pytest.mark.property("equality with nn.RNNCell")
def test_rnn_cell_matches_nn_rnn_cell(submission):
    """Given nn.RNNCell's weights, RNNCell computes the same h' (h=None and a given h)."""
    checks.matches_reference(submission, PYTORCH, model=Build("RNNCell", 3, 5), inputs=[(torch.randn(2, 3),), (torch.randn(2, 3), torch.randn(2, 5))],
                             dtypes=(torch.float32,), prop="equality with nn.RNNCell", hint="h' = tanh(x W_ih^T + b_ih + h W_hh^T + b_hh)")


@pytest.mark.points(1)
@pytest.mark.property("equality with nn.LSTMCell")
def test_lstm_cell_matches_nn_lstm_cell(submission):
    """Given nn.LSTMCell's weights, LSTMCell computes the same (h', c')."""
    checks.matches_reference(submission, PYTORCH, model=Build("LSTMCell", 3, 5), inputs=[(torch.randn(2, 3), (torch.randn(2, 5), torch.randn(2, 5)))],
                             dtypes=(torch.float32,), prop="equality with nn.LSTMCell", hint="gate order i, f, g, o")


@pytest.mark.points(1)
@pytest.mark.property("equality with nn.GRUCell")
def test_gru_cell_matches_nn_gru_cell(submission):
    """Given nn.GRUCell's weights, GRUCell computes the same h'."""
    checks.matches_reference(submission, PYTORCH, model=Build("GRUCell", 3, 5), inputs=[(torch.randn(2, 3), torch.randn(2, 5))],
                             dtypes=(torch.float32,), prop="equality with nn.GRUCell", hint="gate order r, z, n; r multiplies (W_hn h + b_hn)")


@pytest.mark.points(1)
@pytest.mark.property("unrolling through time")
def test_rnn_output_shapes(submission):
    """RNN(3, 5) maps (B, T, 3) to outputs (B, T, 5) for T = 1 and 8."""
    checks.shape_preserved(submission, model=Build("RNN", 3, 5, cell="gru"), make_args=lambda t: (torch.randn(2, t, 3),),
                           expected_shape=lambda t: (2, t, 5), sizes=(1, 8), prop="unrolling through time",
                           hint="return (torch.stack(outputs, dim=1), last_state)")


@pytest.mark.points(1)
@pytest.mark.property("gradient norms")
def test_gradient_norms_shape(submission):
    """hidden_state_gradient_norms returns one norm per step: shape (T,)."""
    result = submission.run("gradient_norms_experiment", model=Build("RNN", 3, 5), state_dict=None, x=torch.randn(2, 6, 3))
    checks.expect_tensor(result["norms"], "the norms", "gradient norms", shape=(6,), hint="one Frobenius norm of dL/dh_t per step")


@pytest.mark.points(1)
@pytest.mark.property("sequence classifier")
def test_sequence_classifier_output_shape(submission):
    """SequenceClassifier(3, 8, 4) maps (B, T, 3) to (B, 4)."""
    checks.shape_preserved(submission, model=Build("SequenceClassifier", 3, 8, 4), make_args=lambda b: (torch.randn(b, 6, 3),),
                           expected_shape=lambda b: (b, 4), sizes=(1, 5), prop="sequence classifier", hint="readout of the last hidden state")
