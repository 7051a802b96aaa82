"""Public tests of the mlp assignment — run them with `nnzoo test mlp` (or `pytest`).

They check each property against PyTorch's own layers and a trusted replay of your training
steps, on inputs of their own; the hidden tests check the same properties more thoroughly.
The tests run in file order: fix the first failure first.
"""

from types import SimpleNamespace

import pytest
import torch
import torch.nn.functional as F

from autograder import checks
from autograder.checks import replay
from autograder.data.spirals import two_spirals
from autograder.judge.subject import LocalSubject, Raised, restart
from autograder.worker.probes import MODEL, Build
from autograder.worker.probes.core import build_model
from autograder.worker.probes.mlp import TRUSTED_LAYERS, TRUSTED_RELU

PYTORCH = LocalSubject(SimpleNamespace(Linear=torch.nn.Linear), label="PyTorch")


def mlp(*args):
    """Your MLP(*args) with PyTorch's nn.Linear in every slot of its `layers`."""
    return Build("MLP", *args).swap("layers.*", TRUSTED_LAYERS)


def randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


# -- Linear ------------------------------------------------------------------------------

@pytest.mark.timeout(10)
@pytest.mark.points(1)
@pytest.mark.property("parameter layout")
def test_linear_has_weight_and_bias_like_nn_linear(submission):
    """Linear(3, 2) has `weight` (2, 3) and `bias` (2,); Linear(3, 2, bias=False) has no bias; nn.Linear's weights load into both."""
    prop, hint = "parameter layout", "weight is (out_features, in_features) as in nn.Linear; with bias=False register no bias (self.bias = None)"
    for kwargs in ({}, {"bias": False}):
        builtin = torch.nn.Linear(3, 2, **kwargs)
        checks.parameters_like(submission, Build("Linear", 3, 2, **kwargs), {n: p.shape for n, p in builtin.named_parameters()},
                               prop=prop, hint=hint)
        loaded = submission.run("run", model=Build("Linear", 3, 2, **kwargs), state_dict=dict(builtin.state_dict()),
                                call=".state_dict", backward=False, allow_error=True)
        if isinstance(loaded, Raised):
            checks.base.fail(prop, f"nn.Linear(3, 2{', bias=False' if kwargs else ''})'s weights do not load into your Linear: {loaded.message[:200]}", hint)


@pytest.mark.timeout(10)
@pytest.mark.points(1)
@pytest.mark.property("initialisation")
def test_linear_initialised_like_nn_linear(submission):
    """Linear(300, 200)'s weight and bias (and the weight of Linear(300, 200, bias=False)) lie in (-k, k), k = 1/sqrt(300),
    spread like a uniform distribution, drawn anew for another seed."""
    prop, hint = "initialisation", "draw weight and bias uniformly from (-k, k) with k = 1/sqrt(in_features), as nn.Linear does"
    weights = submission.run("state_dict", model=Build("Linear", 300, 200))["state_dict"]
    no_bias = submission.run("state_dict", model=Build("Linear", 300, 200, bias=False))["state_dict"]
    k = 300 ** -0.5
    for name, value, count in (("`weight`", weights.get("weight"), 200 * 300), ("`bias`", weights.get("bias"), 200),
                               ("the `weight` of a layer with bias=False", no_bias.get("weight"), 200 * 300)):
        values = checks.expect_tensor(value, name, prop, hint=hint).double()
        if values.numel() != count:  # the layout itself is graded by the parameter-layout test
            checks.base.fail(prop, f"{name} holds {values.numel()} values, expected {count}", hint)
        if not float(values.abs().max()) <= k:  # written so, a NaN fails too
            checks.base.fail(prop, f"{name} has values outside (-k, k)", hint)
        if not abs(float(values.std()) * 3 ** 0.5 / k - 1) <= 0.15:
            checks.base.fail(prop, f"{name} is not spread like a uniform distribution on (-k, k)", hint)
    if not checks.base.drawn_apart(weights["bias"].reshape(-1), weights["weight"].reshape(200, 300)):
        checks.base.fail(prop, "the bias follows a column of the weight: nn.Linear draws the bias on its own", hint)
    again = submission.run("state_dict", model=Build("Linear", 300, 200), seed=1)["state_dict"]
    if torch.equal(checks.expect_tensor(again.get("weight"), "`weight`", prop, hint=hint), weights["weight"]):
        checks.base.fail(prop, "a fresh layer holds the same weight whatever torch's random state (seed 0 and seed 1 alike): "
                               "every layer of a model would start the same",
                         "draw the weights from torch's global random generator (as nn.Linear does), not from a generator of your own")


@pytest.mark.timeout(10)
@pytest.mark.points(1)
@pytest.mark.property("equality with nn.Linear")
@pytest.mark.forbid("torch.nn.Linear", "torch.nn.functional.linear")  # the point of the exercise: write it yourself
def test_linear_matches_nn_linear(submission):
    """Given nn.Linear's weights, Linear computes the same outputs and gradients for (3,), (4, 3), (2, 5, 3) and (2, 2, 4, 3) inputs,
    with and without bias, in float32 and float64;
    also with one output feature ((3,) -> (1,))."""
    hint = "y = x W^T + b over the last dimension (the bias only when there is one), with differentiable torch operations"
    for bias in (True, False):
        checks.matches_reference(submission, PYTORCH, model=Build("Linear", 3, 2, bias=bias),
                                 inputs=[(randn(3, seed=1),), (randn(4, 3, seed=2),), (randn(2, 5, 3, seed=3),), (randn(2, 2, 4, 3, seed=5),)],
                                 prop="equality with nn.Linear", hint=hint)
    checks.matches_reference(submission, PYTORCH, model=Build("Linear", 3, 1), inputs=[(randn(3, seed=4),)], gradients=False,
                             prop="equality with nn.Linear", hint=f"{hint}; (*, in) -> (*, out) keeps every dimension, also of size 1")


# -- relu ----------------------------------------------------------------------------------

@pytest.mark.timeout(10)
@pytest.mark.points(1)
@pytest.mark.property("relu")
def test_relu_known_values(submission):
    """relu([[-1, 0.5, 2, 7.5], [3, -0.2, -4, 12]]) == [[0, 0.5, 2, 7.5], [3, 0, 0, 12]], shape and dtype kept."""
    x = torch.tensor([[-1.0, 0.5, 2.0, 7.5], [3.0, -0.2, -4.0, 12.0]], dtype=torch.float64)
    out = submission.run("run", call="relu", args=(x,), backward=False)["output"]
    checks.expect_close(out, x.clamp(min=0), "relu of a (2, 4) float64 tensor", "relu",
                        hint="max(0, x) elementwise: negatives become 0, everything else passes unchanged")


# -- MLP ---------------------------------------------------------------------------------
# These tests put PyTorch's nn.Linear into your MLP's `layers` and use PyTorch's relu, so they
# grade the MLP itself: a bug in your Linear or relu shows in the tests above.

@pytest.mark.timeout(10)
@pytest.mark.points(1)
@pytest.mark.property("MLP structure")
def test_mlp_layers_follow_sizes(submission):
    """MLP(2, [16, 8], 3).layers holds Linear(2, 16), Linear(16, 8), Linear(8, 3); MLP(2, [], 3) a single Linear(2, 3)."""
    for hidden, dims in (([16, 8], [2, 16, 8, 3]), ([], [2, 3])):
        expected = {}
        for i, (a, b) in enumerate(zip(dims, dims[1:])):
            expected[f"layers.{i}.weight"], expected[f"layers.{i}.bias"] = (b, a), (b,)
        checks.parameters_like(submission, mlp(2, hidden, 3), expected, prop="MLP structure",
                               hint="self.layers = nn.ModuleList of Linear(in, h1), Linear(h1, h2), ..., Linear(h_last, out)")


@pytest.mark.timeout(10)
@pytest.mark.points(1)
@pytest.mark.property("MLP forward")
def test_mlp_matches_pytorch_layers(submission):
    """With the same weights, MLP(3, [5, 4], 2) and MLP(3, [], 2) compute what nn.Linear layers with ReLU between them compute (for 6 rows and for 1 row)."""
    for hidden in ([5, 4], []):
        dims = [3, *hidden, 2]
        torch.manual_seed(1)
        linears = [torch.nn.Linear(a, b).double() for a, b in zip(dims, dims[1:])]
        expected_model = torch.nn.Sequential(*[m for layer in linears for m in (layer, torch.nn.ReLU())][:-1])
        weights = {f"layers.{i}.{n}": p.detach().clone() for i, layer in enumerate(linears) for n, p in layer.named_parameters()}
        for x in (randn(6, 3, seed=4), randn(1, 3, seed=5)):
            out = submission.run("run", model=mlp(3, hidden, 2), state_dict=weights, dtype=torch.float64, args=(x,),
                                 backward=False, patch=TRUSTED_RELU)["output"]
            checks.expect_close(out, expected_model(x).detach(), f"MLP(3, {hidden}, 2) on a {tuple(x.shape)} input", "MLP forward",
                                hint="relu between layers only — none after the last: the outputs are logits and may be negative; keep the batch dimension")


@pytest.mark.timeout(10)
@pytest.mark.points(1)
@pytest.mark.property("shape preservation")
def test_mlp_output_shape(submission):
    """MLP(2, [16], 3) maps (B, 2) to (B, 3) for B = 1 and 10, each row on its own."""
    prop, hint = "shape preservation", "(B, in) -> (B, out) with every row processed independently, also for B = 1"
    X = randn(10, 2, seed=6).float()
    outs = [submission.run("run", model=mlp(2, [16], 3), patch=TRUSTED_RELU, args=(X[:n],), backward=False)["output"] for n in (1, 10)]
    checks.expect_tensor(outs[0], "the output for a (1, 2) input", prop, shape=(1, 3), hint=hint)
    checks.expect_tensor(outs[1], "the output for a (10, 2) input", prop, shape=(10, 3), hint=hint)
    checks.expect_close(outs[0], outs[1][:1], "the output of the first row alone", prop, hint=hint)


@pytest.mark.timeout(10)
@pytest.mark.points(1)
@pytest.mark.property("fixed input size")
def test_mlp_rejects_wrong_input_size(submission):
    """MLP(2, [16], 3) raises ValueError on a (3, 5) input, and accepts a (3, 2) one — with
    PyTorch's nn.Linear in its slots, or else with your own layers (a size check in your
    Linear, on which your MLP relies, counts too)."""
    prop, hint = "fixed input size", "an MLP has a fixed input size: raise ValueError when x.shape[-1] != in_features"

    def check(model):
        checks.raises(submission, model=model, patch=TRUSTED_RELU, args=(randn(3, 5).float(),), error="ValueError", prop=prop, hint=hint)
        right = submission.run("run", model=model, patch=TRUSTED_RELU, args=(randn(3, 2).float(),), backward=False, allow_error=True)
        if isinstance(right, Raised):
            checks.base.fail(prop, f"an input of the right size (3, 2) raised {right.types[0]}: {right.message[:200]}", hint)

    checks.base.first_that_passes(check, mlp(2, [16], 3), Build("MLP", 2, [16], 3))


# -- accuracy ------------------------------------------------------------------------------

@pytest.mark.timeout(10)
@pytest.mark.points(1)
@pytest.mark.property("accuracy metric")
def test_accuracy_is_argmax_fraction(submission):
    """accuracy() of a linear model whose logits are all positive is the fraction of the 150 (and of 3000) rows whose arg-max is the
    label, a Python float."""
    prop, hint = "accuracy metric", ("the prediction is the arg-max of each row's logits (not a threshold), over every row; "
                                     "return a Python float")
    linear = torch.nn.Linear(3, 2).double()
    with torch.no_grad():
        linear.bias.fill_(5.0)
    for n in (150, 3000):
        X, y = randn(n, 3, seed=7), torch.arange(n) % 2
        expected = float((linear(X).argmax(1) == y).double().mean())
        got = submission.run("run", model=Build("torch.nn:Linear", 3, 2), dtype=torch.float64, state_dict=dict(linear.state_dict()),
                             call="accuracy", args=(MODEL, X, y), backward=False)["output"]
        if not isinstance(got, float):
            checks.base.fail(prop, f"accuracy() should return a Python float, got {checks.base.describe(got)}", hint)
        if not abs(got - expected) <= 1e-6:  # (a NaN is never within it)
            checks.base.fail(prop, f"accuracy() returned {got:.3f} on {n} rows, but {expected:.3f} of them have their largest logit at the "
                                   "label", hint)


# -- training ------------------------------------------------------------------------------
# Each of these trains a small model for a few steps (`trains`: left out by `nnzoo test --quick`).
# train_classifier trains PyTorch's own small MLP here; the tests see which rows each
# optimiser step trained on, and replay those steps with a trusted Adam loop.

SMALL = Build("torch.nn:Sequential", Build("torch.nn:Linear", 2, 6), Build("torch.nn:ReLU"), Build("torch.nn:Linear", 6, 3))


def start_weights(seed=0):
    torch.manual_seed(seed)
    return {k: v.double() for k, v in build_model(None, SMALL, None, None).state_dict().items()}


def train(submission, *, X, y, rng=0, weights=None, **kwargs):
    """Your train_classifier(model, X, y, **kwargs) on SMALL, in float64; `rng` seeds the global random state first."""
    return submission.run("train", seed=rng, model=SMALL, state_dict=weights or start_weights(), train="train_classifier",
                          X=X, y=y, train_kwargs=kwargs, dtype=torch.float64)


def visiting_order(result, X, prop, hint, *, epochs):
    """The order a run of `epochs` visited the samples in, and its epochs' batches."""
    epochs = replay.epochs_of(replay.recorded_batches(result, X, prop, hint, epochs=epochs), len(X), prop, hint)
    return torch.cat([torch.cat(e) for e in epochs]), epochs


@pytest.mark.timeout(20)
@pytest.mark.points(1)
@pytest.mark.property("training loop")
@pytest.mark.trains
def test_training_steps_are_adam_steps(submission):
    """train_classifier returns one float per epoch, and its weights are those of Adam(lr) steps on the mean cross-entropy of each batch, gradients cleared before each."""
    prop = "training loop"
    hint = "torch.optim.Adam(model.parameters(), lr=lr) once, then per batch: optimizer.zero_grad(), F.cross_entropy(...).backward(), optimizer.step()"
    X, y = 20 * randn(48, 2, seed=8), torch.arange(48) % 3  # large inputs, gradient norms above 1: a changed step shows
    result = train(submission, X=X, y=y, epochs=2, lr=0.05, batch_size=12, seed=0)
    losses = result["losses"]
    if not (isinstance(losses, (list, tuple)) and len(losses) == 2):  # (each a Python float: the test of the mean loss)
        checks.base.fail(prop, f"train_classifier should return a list of one loss per epoch (2 for epochs=2), got {checks.base.describe(losses)}",
                         "append one Python float (loss.item() based) per epoch")
    batches = replay.recorded_batches(result, X, prop, hint, epochs=2)
    expected = replay.replay(SMALL, start_weights(), X, y, batches, lr=0.05, dtype=torch.float64, epochs=2, prop=prop,
                             hint=hint)["state_dict"]
    for name, value in expected.items():
        checks.expect_close(result["state_dict"].get(name), value, f"`{name}` after training, compared with Adam steps on the same batches",
                            prop, hint=hint)


@pytest.mark.timeout(20)
@pytest.mark.points(1)
@pytest.mark.property("mean loss per epoch")
@pytest.mark.trains
def test_epoch_loss_is_mean_over_samples(submission):
    """With lr=0 the weights stay put, so every epoch's loss is the mean cross-entropy over all 50 samples (batches of 20, 20 and 10);
    with lr=0.05, each batch's loss (before its step) weighted by its size, as a replay of your batches gives."""
    prop, hint = "mean loss per epoch", "add each batch's mean loss times its size, and divide by the number of samples (the last batch is smaller)"
    X, y = randn(50, 2, seed=9), torch.arange(50) % 3
    losses = train(submission, X=X, y=y, epochs=2, lr=0.0, batch_size=20, seed=0)["losses"]
    with torch.no_grad():
        mean = float(F.cross_entropy(build_model(None, SMALL, start_weights(), torch.float64)(X), y))
    checks.modules.compare_nested(losses, [mean, mean], "the losses per epoch", prop, hint)
    result = train(submission, X=X, y=y, epochs=2, lr=0.05, batch_size=20, seed=0)
    expected = replay.replayed_epoch_losses(result, SMALL, start_weights(), X, y, lr=0.05, epochs=2, dtype=torch.float64, prop=prop, hint=hint)
    if expected is not None:  # (a loop whose steps are wrong fails the test of its steps)
        checks.modules.compare_nested(result["losses"], expected, "the losses per epoch with lr=0.05", prop, hint)


@pytest.mark.timeout(20)
@pytest.mark.points(1)
@pytest.mark.property("mini-batches")
@pytest.mark.trains
def test_minibatches_follow_batch_size(submission):
    """With batch_size=15, every epoch visits each of 50 samples once, in batches of 15, 15, 15 and 5 rows; with batch_size left out (64), in one batch."""
    prop, hint = "mini-batches", "split each epoch's shuffled order into consecutive slices of batch_size rows, one optimiser step per slice"
    X, y = randn(50, 2, seed=10), torch.arange(50) % 3
    _, epochs = visiting_order(train(submission, X=X, y=y, epochs=2, lr=0.01, batch_size=15, seed=0), X, prop, hint, epochs=2)
    for k, epoch in enumerate(epochs):
        sizes = replay.sizes_of(epoch)
        if sizes != [15, 15, 15, 5]:
            last = ": the smaller batch should be the last" if sorted(sizes, reverse=True) == [15, 15, 15, 5] else ""
            checks.base.fail(prop, f"epoch {k + 1} trained on batches of {', '.join(map(str, sizes))} rows{last}", hint)
    _, epochs = visiting_order(train(submission, X=X, y=y, epochs=1, lr=0.01, seed=0), X, prop, hint, epochs=1)
    if replay.sizes_of(epochs[0]) != [50]:
        checks.base.fail(prop, f"with batch_size left out, the epoch trained on batches of {', '.join(map(str, replay.sizes_of(epochs[0])))} rows, "
                               "not one batch of all 50", "keep the signature's default, batch_size=64")


@pytest.mark.timeout(20)
@pytest.mark.points(1)
@pytest.mark.property("determinism")
@pytest.mark.trains
def test_same_seed_same_training(submission):
    """Two runs with seed=3, after different global random states, visit the samples in the same order and give the same losses and weights;
    a run with seed left out visits them as seed=0 does."""
    prop, hint = "determinism", "shuffle with torch.randperm(n, generator=g), g = torch.Generator().manual_seed(seed) — not the global random state"
    X, y = randn(40, 2, seed=11), torch.arange(40) % 3
    runs = [train(submission, X=X, y=y, rng=1, epochs=2, lr=0.01, batch_size=10, seed=3)]
    restart(submission)  # your module imported anew: nothing the first run kept in it reaches the second
    runs.append(train(submission, X=X, y=y, rng=2, epochs=2, lr=0.01, batch_size=10, seed=3))
    if not torch.equal(*(visiting_order(r, X, prop, hint, epochs=2)[0] for r in runs)):
        checks.base.fail(prop, "two runs with the same seed visited the samples in different orders", hint)
    checks.modules.compare_nested(runs[1]["losses"], runs[0]["losses"], "the losses of a second run", prop, hint)
    for name, value in runs[0]["state_dict"].items():
        checks.expect_close(runs[1]["state_dict"].get(name), value, f"`{name}` after a second run", prop, hint=hint)
    restart(submission)  # each in a fresh worker: only the default tells the two apart
    default = train(submission, X=X, y=y, rng=1, epochs=1, lr=0.01, batch_size=10)
    restart(submission)
    zero = train(submission, X=X, y=y, rng=2, epochs=1, lr=0.01, batch_size=10, seed=0)
    if not torch.equal(visiting_order(default, X, prop, hint, epochs=1)[0], visiting_order(zero, X, prop, hint, epochs=1)[0]):
        checks.base.fail(prop, "a run with seed left out visited the samples in another order than a run with seed=0",
                         "keep the signature's default, seed=0, so that a call without a seed is reproducible too")


@pytest.mark.timeout(20)
@pytest.mark.points(1)
@pytest.mark.property("seeded shuffling")
@pytest.mark.trains
def test_seed_changes_the_shuffling(submission):
    """seed=1 and seed=2 visit the samples in different orders."""
    prop, hint = "seeded shuffling", "seed the shuffling generator with the `seed` argument"
    X, y = randn(40, 2, seed=12), torch.arange(40) % 3
    orders = []
    for s in (1, 2):
        restart(submission)  # your module imported anew: nothing the first run kept in it tells the second apart
        orders.append(visiting_order(train(submission, X=X, y=y, epochs=1, lr=0.01, batch_size=10, seed=s), X, prop, hint, epochs=1)[0])
    if torch.equal(*orders):
        checks.base.fail(prop, "seed=1 and seed=2 visited the samples in the same order", hint)


@pytest.mark.timeout(120)
@pytest.mark.points(1)
@pytest.mark.property("accuracy on two spirals")
@pytest.mark.trains
def test_mlp_learns_two_spirals(submission):
    """Your MLP(2, [64, 64], 2), trained by your train_classifier for 60 epochs (all of them: a loss for each), reaches 95% on
    held-out spirals."""
    X, y = two_spirals(500, seed=2)
    X_eval, y_eval = two_spirals(250, seed=3)
    checks.trained_accuracy(submission, model=Build("MLP", 2, [64, 64], 2), state_dict=None, train="train_classifier",
                            X=X, y=y, X_eval=X_eval, y_eval=y_eval, num_classes=2,
                            train_kwargs=dict(epochs=60, lr=1e-2), threshold=0.95, every_epoch=True,
                            prop="accuracy on two spirals", hint="hidden layers with ReLU bend the decision boundary")
