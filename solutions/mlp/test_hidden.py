"""Hidden tests of the mlp assignment (instructor-only).

Every test grades one property through the check library.  MLP tests swap in PyTorch's
own `Linear` and `relu` (`patch=BUILTIN_LAYERS`), and the training tests train PyTorch's
own MLP (`trusted_mlp`), so a broken piece costs its own points once, not every test
built on it.
"""

import math

import pytest
import torch

from autograder import checks
from autograder.data.spirals import two_spirals
from autograder.worker.probes import MODEL, Build

BUILTIN_LAYERS = {"Linear": "torch.nn:Linear", "relu": "torch:relu"}


def trusted_mlp(*sizes):
    """PyTorch's own MLP with these layer sizes: the training tests grade the loop, not the model."""
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [Build("torch.nn:Linear", a, b), Build("torch.nn:ReLU")]
    return Build("torch.nn:Sequential", *layers[:-1])
FORBIDDEN = ("torch.nn.Linear", "torch.nn.functional.linear")


def randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


# -- Linear ------------------------------------------------------------------------------

@pytest.mark.points(1)
@pytest.mark.property("parameter layout")
@pytest.mark.forbid(*FORBIDDEN)
def test_linear_parameters_match_nn_linear(submission):
    """Linear has nn.Linear's parameter names and shapes (with and without bias)."""
    for args, kwargs in (((7, 3), {}), ((4, 5), {"bias": False})):
        expected = {n: list(p.shape) for n, p in torch.nn.Linear(*args, **kwargs).named_parameters()}
        checks.parameters_like(submission, Build("Linear", *args, **kwargs), expected, prop="parameter layout",
                               hint="name them `weight` (out_features, in_features) and `bias` (out_features,); with bias=False register no bias")


@pytest.mark.points(1)
@pytest.mark.property("initialisation")
@pytest.mark.forbid(*FORBIDDEN)
def test_linear_initialised_like_nn_linear(submission):
    """weight and bias are drawn from U(-k, k) with k = 1/sqrt(in_features)."""
    prop, hint = "initialisation", "draw weight and bias uniformly from (-k, k), k = 1/sqrt(in_features), as nn.Linear does"
    sd = submission.run("state_dict", model=Build("Linear", 400, 300), seed=3)["state_dict"]
    k = 1 / math.sqrt(400)
    for name in ("weight", "bias"):
        values = checks.expect_tensor(sd.get(name), f"`{name}`", prop, hint=hint).double()
        if float(values.abs().max()) > k * 1.0001:
            checks.base.fail(prop, f"`{name}` has values outside (-k, k)", hint)
        # a uniform on (-k, k) has mean 0 and standard deviation k / sqrt(3)
        if abs(float(values.std()) - k / math.sqrt(3)) > 0.1 * k / math.sqrt(3) or abs(float(values.mean())) > 0.1 * k:
            checks.base.fail(prop, f"`{name}` is not spread like U(-k, k)", hint)


@pytest.mark.points(2)
@pytest.mark.property("equality with nn.Linear")
@pytest.mark.forbid(*FORBIDDEN)
def test_linear_forward_matches_reference(reference, submission):
    """Same output as the reference for (*, in) inputs — 1-D, a batch of 1, 3-D — in float64 and float32."""
    for bias in (True, False):
        checks.matches_reference(
            submission, reference, model=Build("Linear", 5, 4, bias=bias),
            inputs=[(randn(5),), (randn(1, 5),), (randn(6, 5, seed=1),), (randn(2, 3, 5, seed=2),)],
            gradients=False, prop="equality with nn.Linear",
            hint="y = x W^T + b over the last dimension; the bias is added to every row",
        )


@pytest.mark.points(2)
@pytest.mark.property("gradients")
@pytest.mark.forbid(*FORBIDDEN)
def test_linear_gradients_match_reference(reference, submission):
    """Gradients w.r.t. the input, weight and bias equal the reference's."""
    checks.matches_reference(
        submission, reference, model=Build("Linear", 5, 4),
        inputs=[(randn(1, 5),), (randn(6, 5, seed=1),), (randn(2, 3, 5, seed=2),)],
        prop="gradients", hint="build the output from differentiable torch operations on the parameters (no .data, no detach)",
    )


# -- relu ----------------------------------------------------------------------------------

@pytest.mark.points(1)
@pytest.mark.property("relu")
def test_relu_matches_reference(reference, submission):
    """relu keeps the shape and dtype, zeroes negatives, passes gradients for positives."""
    x = randn(4, 7, seed=5)
    x[x.abs() < 1e-3] = 0.5  # the gradient at exactly 0 is not graded
    checks.matches_reference(submission, reference, model=None, call="relu", inputs=[(x,), (x[0],)],
                             prop="relu", hint="max(0, x) elementwise, with torch operations so autograd can differentiate it")


# -- MLP ---------------------------------------------------------------------------------

@pytest.mark.points(1)
@pytest.mark.property("MLP structure")
def test_mlp_layers_follow_sizes(reference, submission):
    """`layers` holds len(hidden_sizes) + 1 Linear layers with the right sizes (hidden may be empty)."""
    for sizes in ([16, 8], [], [32]):
        model = Build("MLP", 3, sizes, 2)
        expected = reference.run("state_dict", model=model, patch=BUILTIN_LAYERS)["param_shapes"]
        checks.parameters_like(submission, model, expected, patch=BUILTIN_LAYERS, prop="MLP structure",
                               hint="layers must be an nn.ModuleList (or nn.Sequential) of Linear(in, h1), Linear(h1, h2), ..., Linear(h_last, out)")


@pytest.mark.points(2)
@pytest.mark.property("MLP forward")
def test_mlp_matches_reference(reference, submission):
    """Outputs and gradients equal the reference (ReLU between layers, none after the last)."""
    for sizes in ([16, 8], []):
        checks.matches_reference(
            submission, reference, model=Build("MLP", 3, sizes, 4), patch=BUILTIN_LAYERS,
            inputs=[(randn(1, 3),), (randn(9, 3, seed=1),)], prop="MLP forward",
            hint="apply relu after every layer except the last — the outputs are logits and may be negative",
        )


@pytest.mark.points(1)
@pytest.mark.property("shape preservation")
def test_mlp_maps_any_batch_size(submission):
    """(B, in) -> (B, out) for B = 1, 7, 64."""
    checks.shape_preserved(submission, model=Build("MLP", 6, [10], 3), patch=BUILTIN_LAYERS,
                           make_args=lambda n: (randn(n, 6).float(),), expected_shape=lambda n: (n, 3), sizes=(1, 7, 64),
                           prop="shape preservation", hint="every row of the batch is processed independently")


@pytest.mark.points(1)
@pytest.mark.property("fixed input size")
def test_mlp_rejects_wrong_input_size(submission):
    """An input with the wrong number of features raises ValueError."""
    for wrong in (randn(4, 5).float(), randn(4, 7).float()):
        checks.raises(submission, model=Build("MLP", 6, [10], 3), patch=BUILTIN_LAYERS, args=(wrong,), error="ValueError",
                      prop="fixed input size", hint="an MLP takes a fixed input size: compare x.shape[-1] with in_features and raise ValueError")


@pytest.mark.points(1)
@pytest.mark.property("gradient flow")
def test_every_mlp_parameter_gets_a_gradient(submission):
    """One backward pass reaches the weight and bias of every layer."""
    checks.every_parameter_gets_gradient(submission, model=Build("MLP", 4, [12, 12], 3), patch=BUILTIN_LAYERS,
                                         args=(randn(32, 4).float(),), prop="gradient flow",
                                         hint="register every layer (nn.ModuleList, not a Python list) and use each one in forward")


# -- training ------------------------------------------------------------------------------

SMALL = trusted_mlp(2, 8, 3)


def _train(subject, *, state_dict, X, y, **train_kwargs):
    return subject.run("train", model=SMALL, state_dict=state_dict, train="train_classifier",
                       X=X, y=y, train_kwargs=train_kwargs, dtype=torch.float64)


@pytest.mark.points(2)
@pytest.mark.property("training loop")
def test_full_batch_training_matches_reference(reference, submission):
    """With one batch per epoch, losses and final weights equal the reference's (Adam, cross-entropy, zero_grad)."""
    prop, hint = "training loop", "Adam on model.parameters() with lr, F.cross_entropy, and optimizer.zero_grad() before each backward"
    sd = checks.reference_state_dict(reference, SMALL, torch.float64)
    X, y = randn(40, 2, seed=7), torch.arange(40) % 3
    kwargs = dict(epochs=4, lr=0.05, batch_size=40, seed=0)
    expected = _train(reference, state_dict=sd, X=X, y=y, **kwargs)
    actual = _train(submission, state_dict=sd, X=X, y=y, **kwargs)
    checks.modules.compare_nested(actual["losses"], expected["losses"], "the losses per epoch", prop, hint)
    for name, value in expected["state_dict"].items():
        checks.expect_close(actual["state_dict"].get(name), value, f"`{name}` after training", prop, hint=hint)


@pytest.mark.points(1)
@pytest.mark.property("mean loss per epoch")
def test_epoch_loss_is_mean_over_samples(reference, submission):
    """With lr=0 the weights stay put, so each epoch's loss is the mean loss over all samples."""
    prop, hint = "mean loss per epoch", "weight each batch's mean loss by its size and divide by the number of samples (the last batch is smaller)"
    sd = checks.reference_state_dict(reference, SMALL, torch.float64)
    X, y = randn(100, 2, seed=8), torch.arange(100) % 3
    kwargs = dict(epochs=2, lr=0.0, batch_size=64, seed=1)
    expected = _train(reference, state_dict=sd, X=X, y=y, **kwargs)["losses"]
    actual = _train(submission, state_dict=sd, X=X, y=y, **kwargs)["losses"]
    checks.modules.compare_nested(actual, expected, "the losses per epoch", prop, hint)


@pytest.mark.points(1)
@pytest.mark.property("determinism")
def test_same_seed_same_training(reference, submission):
    """The same seed gives identical losses and weights."""
    prop, hint = "determinism", "draw the shuffling from a torch.Generator seeded with `seed` (not the global RNG state)"
    sd = checks.reference_state_dict(reference, SMALL, torch.float64)
    X, y = randn(100, 2, seed=9), torch.arange(100) % 3
    kwargs = dict(epochs=2, lr=0.01, batch_size=16, seed=5)
    first = submission.run("train", seed=1, model=SMALL, state_dict=sd, train="train_classifier",
                           X=X, y=y, train_kwargs=kwargs, dtype=torch.float64)
    second = submission.run("train", seed=2, model=SMALL, state_dict=sd, train="train_classifier",
                            X=X, y=y, train_kwargs=kwargs, dtype=torch.float64)
    checks.modules.compare_nested(second["losses"], first["losses"], "the losses of a second run with the same seed", prop, hint)
    for name, value in checks.trained_weights(first, prop, hint).items():
        checks.expect_close(second["state_dict"].get(name), value, f"`{name}` after a second run with the same seed", prop, hint=hint)


@pytest.mark.points(1)
@pytest.mark.property("accuracy metric")
def test_accuracy_is_argmax_fraction(submission):
    """accuracy() returns the fraction of rows whose arg-max logit equals the label."""
    prop, hint = "accuracy metric", "the prediction is logits.argmax(dim=1) — not a threshold — and the result a Python float"
    for classes, bias in ((3, 0.0), (2, 3.0)):  # with both logits positive, a threshold on one logit fails
        linear = torch.nn.Linear(4, classes).double()
        with torch.no_grad():
            linear.bias.fill_(bias)
        X = randn(50, 4, seed=classes)
        y = torch.arange(50) % classes
        expected = float((linear(X).argmax(1) == y).double().mean())
        got = submission.run("run", model=Build("torch.nn:Linear", 4, classes), dtype=torch.float64,
                             state_dict=dict(linear.state_dict()), call="accuracy", args=(MODEL, X, y), backward=False)["output"]
        if not isinstance(got, float):
            checks.base.fail(prop, f"accuracy() should return a Python float, got {checks.base.describe(got)}", hint)
        if abs(got - expected) > 1e-6:
            checks.base.fail(prop, f"accuracy() returned {got:.3f} on a model whose arg-max accuracy differs", hint)


@pytest.mark.points(3)
@pytest.mark.property("accuracy on two spirals")
def test_classifier_learns_two_spirals(reference, submission):
    """An MLP with hidden sizes [64, 64] trained by your train_classifier reaches 95% on held-out spirals."""
    X, y = two_spirals(600, seed=0)
    X_eval, y_eval = two_spirals(300, seed=1)
    model = trusted_mlp(2, 64, 64, 2)
    sd = checks.reference_state_dict(reference, model)
    checks.trained_accuracy(submission, evaluator=reference, model=model, state_dict=sd, train="train_classifier", X=X, y=y, X_eval=X_eval,
                            y_eval=y_eval, num_classes=2, train_kwargs=dict(epochs=60, lr=1e-2, batch_size=64, seed=0),
                            threshold=0.95, prop="accuracy on two spirals",
                            hint="a linear model reaches only ≈ 65% here: the hidden ReLU layers must bend the boundary, and every step must update the weights")
