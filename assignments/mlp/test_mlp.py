"""Public tests of the mlp assignment — run them with `nnzoo test mlp` (or `pytest`).

They check the obvious against PyTorch's own layers; the hidden tests check more.
"""

from types import SimpleNamespace

import pytest
import torch

from autograder import checks
from autograder.data.spirals import two_spirals
from autograder.worker.probes import Build
from autograder.judge.subject import LocalSubject

PYTORCH = LocalSubject(SimpleNamespace(Linear=torch.nn.Linear, relu=torch.relu), label="PyTorch")


@pytest.mark.points(1)
@pytest.mark.property("parameter layout")
def test_linear_has_weight_and_bias_like_nn_linear(submission):
    """Linear(3, 2) has `weight` (2, 3) and `bias` (2,)."""
    checks.parameters_like(submission, Build("Linear", 3, 2), {"weight": (2, 3), "bias": (2,)},
                           prop="parameter layout", hint="weight is (out_features, in_features), as in nn.Linear")


@pytest.mark.points(1)
@pytest.mark.property("equality with nn.Linear")
def test_linear_matches_nn_linear(submission):
    """Given nn.Linear's weights, Linear computes the same output for a (4, 3) batch."""
    checks.matches_reference(submission, PYTORCH, model=Build("Linear", 3, 2), inputs=[(torch.randn(4, 3),)],
                             dtypes=(torch.float32,), prop="equality with nn.Linear", hint="y = x W^T + b")


@pytest.mark.points(1)
@pytest.mark.property("relu")
def test_relu_known_values(submission):
    """relu([-1, 0.5, 2]) == [0, 0.5, 2]."""
    out = submission.run("run", call="relu", args=(torch.tensor([-1.0, 0.5, 2.0]),), backward=False)["output"]
    checks.expect_close(out, torch.tensor([0.0, 0.5, 2.0]), "relu([-1, 0.5, 2])", "relu", hint="max(0, x), elementwise")


@pytest.mark.points(1)
@pytest.mark.property("shape preservation")
def test_mlp_output_shape(submission):
    """MLP(2, [16], 3) maps (B, 2) to (B, 3) for B = 1 and 10."""
    checks.shape_preserved(submission, model=Build("MLP", 2, [16], 3), make_args=lambda n: (torch.randn(n, 2),),
                           expected_shape=lambda n: (n, 3), sizes=(1, 10), prop="shape preservation",
                           hint="one Linear per consecutive pair of sizes")


@pytest.mark.points(1)
@pytest.mark.property("fixed input size")
def test_mlp_rejects_wrong_input_size(submission):
    """MLP(2, [16], 3) raises ValueError on a (4, 5) input."""
    checks.raises(submission, model=Build("MLP", 2, [16], 3), args=(torch.randn(4, 5),), error="ValueError",
                  prop="fixed input size", hint="an MLP has a fixed input size: check x.shape[-1]")


@pytest.mark.points(1)
@pytest.mark.property("training loop")
def test_train_classifier_returns_one_loss_per_epoch(submission):
    """train_classifier returns `epochs` floats, and the loss goes down on easy data."""
    X = torch.randn(200, 2)
    y = (X[:, 0] > 0).long()
    losses = submission.run("train", model=Build("MLP", 2, [16], 2), state_dict=None, train="train_classifier",
                            X=X, y=y, train_kwargs=dict(epochs=5, lr=1e-2))["losses"]
    if not (isinstance(losses, list) and len(losses) == 5 and all(isinstance(v, float) for v in losses)):
        checks.base.fail("training loop", "train_classifier should return a list of 5 floats for epochs=5", "append loss per epoch")
    if not losses[-1] < losses[0]:
        checks.base.fail("training loop", "the loss did not go down over 5 epochs", "zero the gradients, backward, optimizer.step()")


@pytest.mark.points(1)
@pytest.mark.property("accuracy on two spirals")
def test_mlp_learns_two_spirals(submission):
    """MLP(2, [64, 64], 2) trained for 60 epochs reaches 95% on held-out spirals."""
    X, y = two_spirals(600, seed=0)
    X_eval, y_eval = two_spirals(300, seed=1)
    checks.trained_accuracy(submission, model=Build("MLP", 2, [64, 64], 2), state_dict=None, train="train_classifier",
                            X=X, y=y, X_eval=X_eval, y_eval=y_eval, num_classes=2,
                            train_kwargs=dict(epochs=60, lr=1e-2), threshold=0.95,
                            prop="accuracy on two spirals", hint="hidden layers with ReLU bend the decision boundary")
