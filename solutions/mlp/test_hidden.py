"""Hidden tests of the mlp assignment (instructor-only).

Every test grades one property through the check library, on the student's own objects, and
the judge decides from raw tensors:

- The MLP tests build the student's `MLP` and put PyTorch's own `nn.Linear` into every slot of
  `MLP.layers` (SPEC fixes that attribute), with the sizes the student's MLP gave each layer;
  the module-level `relu` is replaced by PyTorch's for the call.  A broken `Linear` or `relu`
  so costs its own points, not the MLP's, however the student's code refers to them.  An MLP
  that bound `relu` at import time (an alias, a default argument) keeps its own: a correct one
  changes nothing; a broken one also costs `test_mlp_matches_reference` (a function has no
  place in the built model to swap it in).
- The training tests train PyTorch's own MLP with the student's `train_classifier`.  The
  worker records which rows each optimiser step trained on (probe `train`); the judge
  checks that record itself.  The training-loop test replays the recorded batches with a
  trusted Adam loop (`checks.replay`) and requires the returned weights; the lr = 0 run of the
  epoch-loss test is compared with the reference's.  The mini-batch test reads the batch
  sizes from the record, verified by the same replay where the training-loop run replays.
  Otherwise, and in the determinism and seed tests (which compare orders between runs), the
  record is verified against the loop's own behaviour, whatever its steps: on data rearranged
  so that one seed's recorded order meets another seed's rows, the first seed must reproduce
  the other's run exactly.  Held-out data never reaches the worker: the trained spirals
  weights are evaluated by the reference, in the judge.
"""

import math

import pytest
import torch

from autograder import checks
from autograder.checks import replay
from autograder.checks import verdicts
from autograder.checks.base import fail, first_that_passes
from autograder.checks.modules import within, without_private_buffers
from autograder.data.spirals import two_spirals
from autograder.judge.subject import Raised, restart, run_each
from autograder.worker.probes import MODEL, Build
from autograder.worker.probes.mlp import TRUSTED_LAYERS, TRUSTED_RELU

FORBIDDEN = ("torch.nn.Linear", "torch.nn.functional.linear")
RANDOM_STATE_HINT = "initialise the parameters once, in __init__, from torch's global random generator (as nn.Linear does)"


def mlp(*args):
    """The student's MLP(*args) with PyTorch's nn.Linear in every slot of its `layers`."""
    return Build("MLP", *args).swap("layers.*", TRUSTED_LAYERS)


def trusted_mlp(*sizes):
    """PyTorch's own MLP with these layer sizes: the training tests grade the loop, not the model."""
    layers = []
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers += [Build("torch.nn:Linear", a, b), Build("torch.nn:ReLU")]
    return Build("torch.nn:Sequential", *layers[:-1])


def randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def plain_weights(value, what, prop, hint):
    """A state_dict that came back from a worker, checked to be a dict of plain tensors."""
    if not isinstance(value, dict) or not value:
        fail(prop, f"{what} is not a state_dict of tensors", hint)
    for name, tensor in value.items():
        checks.expect_tensor(tensor, f"{what}: `{name}`", prop, finite=False, bool_ok=True, hint=hint)
    return value


# -- Linear ------------------------------------------------------------------------------

@pytest.mark.points(1)
@pytest.mark.property("parameter layout")
@pytest.mark.forbid(*FORBIDDEN)
def test_linear_parameters_match_nn_linear(submission):
    """Linear has nn.Linear's parameter names and shapes (with and without bias), and nn.Linear's weights load into it."""
    prop = "parameter layout"
    hint = "name them `weight` (out_features, in_features) and `bias` (out_features,); with bias=False register no bias"
    for args, kwargs in (((7, 3), {}), ((4, 5), {"bias": False})):
        builtin = torch.nn.Linear(*args, **kwargs)
        checks.parameters_like(submission, Build("Linear", *args, **kwargs),
                               {n: list(p.shape) for n, p in builtin.named_parameters()}, prop=prop, hint=hint)
        # the judge's own weights, in nn.Linear's layout, must load (strictly) and be what the layer then holds
        weights = {k: v.detach().clone() for k, v in builtin.state_dict().items()}
        held = submission.run("run", model=Build("Linear", *args, **kwargs), state_dict=weights, call=".state_dict",
                              backward=False, allow_error=True)
        layer = f"Linear({', '.join([*map(str, args), *(f'{k}={v}' for k, v in kwargs.items())])})"
        if isinstance(held, Raised):
            fail(prop, f"nn.Linear's weights do not load into {layer} ({held.types[0]})", hint)
        if not isinstance(held["output"], dict):
            fail(prop, f"{layer}.state_dict() should return a dict, got {checks.base.describe(held['output'])}", hint)
        # a buffer of the student's own with a private name (e.g. `_bound`) may come back too
        held = without_private_buffers(held["output"], weights)
        if sorted(held) != sorted(weights):
            fail(prop, f"{layer} does not hold exactly nn.Linear's parameters after loading them "
                       f"(its state_dict has {sorted(held)}; a constant of your own may be a buffer with a name starting with _)", hint)
        for name, value in weights.items():
            checks.expect_close(held[name], value, f"`{name}` after loading nn.Linear's weights", prop, hint=hint)


@pytest.mark.points(1)
@pytest.mark.property("initialisation")
@pytest.mark.forbid(*FORBIDDEN)
def test_linear_initialised_like_nn_linear(submission):
    """weight and bias are drawn from U(-k, k) with k = 1/sqrt(in_features) (the weight of a layer without bias
    too), from torch's random state (another seed, another weight), and are the weights the fresh layer computes with."""
    prop, hint = "initialisation", "draw weight and bias uniformly from (-k, k), k = 1/sqrt(in_features), as nn.Linear does"
    model = Build("Linear", 400, 300)
    sd = plain_weights(submission.run("state_dict", model=model, seed=3)["state_dict"], "the fresh layer's weights", prop, hint)
    no_bias = plain_weights(submission.run("state_dict", model=Build("Linear", 400, 300, bias=False), seed=3)["state_dict"],
                            "the fresh layer's weights (bias=False)", prop, hint)
    k = 1 / math.sqrt(400)
    for name, value, count in (("`weight`", sd.get("weight"), 300 * 400), ("`bias`", sd.get("bias"), 300),
                               ("the `weight` of a layer with bias=False", no_bias.get("weight"), 300 * 400)):
        values = checks.expect_tensor(value, name, prop, hint=hint).double()
        if values.numel() != count:  # the layout itself is graded by the parameter-layout test
            fail(prop, f"{name} holds {values.numel()} values, expected {count}", hint)
        if not float(values.abs().max()) <= k * 1.0001:  # written so that NaN fails too
            fail(prop, f"{name} has values outside (-k, k)", hint)
        # a uniform on (-k, k) has mean 0 and standard deviation k / sqrt(3)
        if not (within(float(values.std()), k / math.sqrt(3), 0.1 * k / math.sqrt(3)) and within(float(values.mean()), 0.0, 0.1 * k)):
            fail(prop, f"{name} is not spread like U(-k, k)", hint)
    if not checks.base.drawn_apart(sd["bias"].reshape(-1), sd["weight"].reshape(300, 400)):
        fail(prop, "the bias follows a column of the weight: nn.Linear draws the bias on its own, not from the weight's values", hint)
    other = plain_weights(submission.run("state_dict", model=model, seed=4)["state_dict"], "the fresh layer's weights", prop, hint)
    if torch.equal(checks.expect_tensor(other.get("weight"), "`weight`", prop, hint=hint).double(), sd["weight"].double()):
        fail(prop, "a fresh layer holds the same weight whatever torch's random state (seed 3 and seed 4 alike): "
                   "every layer of a model would start the same", RANDOM_STATE_HINT)
    # The values above are what the worker says the fresh layer holds: the same fresh layer
    # (same seed) must compute what the layer loaded with them computes — or, where its
    # forward fails (the forward tests grade that), give them from its own `state_dict()`
    # called through another probe.
    x = randn(5, 400, seed=4).float()
    fresh = submission.run("run", model=model, seed=3, args=(x,), backward=False, allow_error=True)
    if isinstance(fresh, Raised):
        again = submission.run("run", model=model, seed=3, call=".state_dict", backward=False, allow_error=True)
        held = again.get("output") if isinstance(again, dict) else None
        if not isinstance(held, dict):
            fail(prop, "the fresh layer's state_dict() could not be read a second time to confirm its weights", hint)
        for name in ("weight", "bias"):
            checks.expect_close(held.get(name), sd[name], f"`{name}` of the fresh layer, read a second time", prop, hint=hint)
        return
    loaded = submission.run("run", model=model, seed=3, state_dict=sd, args=(x,), backward=False, allow_error=True)
    if isinstance(loaded, Raised):
        fail(prop, "the weights state_dict() reports for a fresh layer do not load into it", hint)
    checks.expect_close(loaded["output"], checks.expect_tensor(fresh["output"], "the fresh layer's output", prop, hint=hint),
                        "the output of the layer loaded with its own reported initial weights", prop,
                        hint=RANDOM_STATE_HINT)


@pytest.mark.points(2)
@pytest.mark.property("equality with nn.Linear")
@pytest.mark.forbid(*FORBIDDEN)
def test_linear_forward_matches_reference(reference, submission):
    """Same output as the reference for (*, in) inputs — 1-D, a batch of 1, 3-D, 4-D — in float64 and float32, with and without bias;
    also with one output feature ((5,) -> (1,), (1, 5) -> (1, 1))."""
    hint = "y = x W^T + b over the last dimension; the bias is added to every row, and only when there is one"
    for bias in (True, False):
        checks.matches_reference(
            submission, reference, model=Build("Linear", 5, 4, bias=bias),
            inputs=[(randn(5),), (randn(1, 5),), (randn(6, 5, seed=1),), (randn(2, 3, 5, seed=2),), (randn(2, 2, 3, 5, seed=4),)],
            gradients=False, prop="equality with nn.Linear", hint=hint,
        )
    checks.matches_reference(submission, reference, model=Build("Linear", 5, 1), inputs=[(randn(5),), (randn(1, 5),)], gradients=False,
                             prop="equality with nn.Linear", hint=f"{hint}; (*, in) -> (*, out) keeps every dimension, also of size 1")


@pytest.mark.points(2)
@pytest.mark.property("gradients")
@pytest.mark.forbid(*FORBIDDEN)
def test_linear_gradients_match_reference(reference, submission):
    """Gradients w.r.t. the input, weight and bias equal the reference's (with and without bias)."""
    for bias in (True, False):
        checks.matches_reference(
            submission, reference, model=Build("Linear", 5, 4, bias=bias),
            inputs=[(randn(5, seed=3),), (randn(1, 5),), (randn(6, 5, seed=1),), (randn(2, 3, 5, seed=2),)],
            prop="gradients", hint="build the output from differentiable torch operations on the parameters (no .data, no detach)",
        )


# -- relu ----------------------------------------------------------------------------------

@pytest.mark.points(1)
@pytest.mark.property("relu")
def test_relu_matches_reference(reference, submission):
    """relu keeps the shape (a batch of one too) and dtype, zeroes negatives, passes gradients for positives (large ones too)."""
    x = randn(4, 7, seed=5)
    x[x.abs() < 1e-3] = 0.5  # the gradient at exactly 0 is not graded
    checks.matches_reference(submission, reference, model=None, call="relu", inputs=[(x,), (x[0],), (x[:1],), (10 * x,)],
                             prop="relu", hint="max(0, x) elementwise, with torch operations so autograd can differentiate it")


# -- MLP (PyTorch's nn.Linear in every slot of `layers`, PyTorch's relu) -------------------

@pytest.mark.points(1)
@pytest.mark.property("MLP structure")
def test_mlp_layers_follow_sizes(submission):
    """`layers` holds len(hidden_sizes) + 1 Linear layers with the right sizes (hidden may be empty), and weights of those sizes load into it."""
    prop = "MLP structure"
    hint = "layers must be an nn.ModuleList (or nn.Sequential) of Linear(in, h1), Linear(h1, h2), ..., Linear(h_last, out) and nothing else"
    for sizes in ([16, 8], [], [32]):
        dims = [3, *sizes, 2]
        expected = {}
        for i, (a, b) in enumerate(zip(dims, dims[1:])):
            expected[f"layers.{i}.weight"], expected[f"layers.{i}.bias"] = [b, a], [b]
        checks.parameters_like(submission, mlp(3, sizes, 2), expected, prop=prop, hint=hint)
        weights = {name: randn(*shape, seed=len(name)) for name, shape in expected.items()}  # the judge's own, in that layout
        loaded = submission.run("run", model=mlp(3, sizes, 2), state_dict=weights, dtype=torch.float64, call=".state_dict",
                                backward=False, allow_error=True)
        if isinstance(loaded, Raised):
            fail(prop, f"weights for layers of sizes {dims} do not load into MLP(3, {sizes}, 2) ({loaded.types[0]})", hint)


#: the tests that grade a Linear as a part of an MLP computes with
LINEAR_TESTS = ("test_linear_forward_matches_reference", "test_linear_gradients_match_reference")


@pytest.mark.points(2)
@pytest.mark.property("MLP forward")
def test_mlp_matches_reference(reference, submission):
    """Outputs and gradients equal the reference (ReLU between layers, none after the last), also for a batch of 1 and no hidden layer;
    on PyTorch's layers, and on the student's own where those are right."""
    hint = "apply relu after every layer except the last — the outputs are logits and may be negative"
    for sizes in ([16, 8], []):
        checks.matches_reference(submission, reference, model=mlp(3, sizes, 4), patch=TRUSTED_RELU,
                                 inputs=[(randn(1, 3),), (randn(9, 3, seed=1),)], prop="MLP forward", hint=hint)
    checks.composed_of_its_own_parts(
        submission, reference, model=mlp(3, [16, 8], 4), inputs=[(randn(9, 3, seed=1),)], prop="MLP forward", hint=hint,
        parts=[*(dict(model=Build("Linear", a, b), inputs=[(randn(5, a, seed=2),)], tests=LINEAR_TESTS) for a, b in ((3, 16), (16, 8), (8, 4))),
               dict(model=None, call="relu", inputs=[(randn(5, 8, seed=3),)], tests=("test_relu_matches_reference",))])


@pytest.mark.points(1)
@pytest.mark.property("shape preservation")
def test_mlp_maps_any_batch_size(submission):
    """(B, in) -> (B, out) for B = 1, 7, 64, each row independently of the others."""
    prop, hint = "shape preservation", "every row of the batch is processed independently: (B, in) -> (B, out), also for B = 1"
    X = randn(64, 6, seed=6).float()
    outputs, sizes = {}, (1, 7, 64)
    results = run_each(submission, "run", [dict(model=mlp(6, [10], 3), args=(X[:n],), backward=False) for n in sizes], patch=TRUSTED_RELU)
    for n, result in zip(sizes, results):
        outputs[n] = checks.expect_tensor(result["output"], f"the output for input of shape ({n}, 6)", prop, shape=(n, 3), hint=hint)
    for n in (1, 7):  # the same weights (same seed): a row's output must not depend on the rest of the batch
        checks.expect_close(outputs[n], outputs[64][:n], f"the output for the first {n} row(s) alone", prop, hint=hint)
    if bool((outputs[64] == outputs[64][:1]).all()):
        fail(prop, "every row gets the same output, whatever its input", hint)


@pytest.mark.points(1)
@pytest.mark.property("fixed input size")
def test_mlp_rejects_wrong_input_size(submission):
    """An input with the wrong number of features raises ValueError; the right size does not.

    Graded with PyTorch's nn.Linear in the MLP's slots (a bug of your Linear costs nothing
    here); where that fails, once more with your own layers: a size check in your Linear,
    on which your MLP relies, makes the MLP raise ValueError too."""
    prop, hint = "fixed input size", "an MLP takes a fixed input size: compare x.shape[-1] with in_features and raise ValueError"

    def check(model):
        for wrong in (randn(4, 5).float(), randn(4, 7).float()):
            checks.raises(submission, model=model, patch=TRUSTED_RELU, args=(wrong,), error="ValueError", prop=prop, hint=hint)
        right = submission.run("run", model=model, patch=TRUSTED_RELU, args=(randn(4, 6).float(),), backward=False, allow_error=True)
        if isinstance(right, Raised):
            fail(prop, f"an input of the right size (4, 6) raised {right.types[0]}", hint)

    first_that_passes(check, mlp(6, [10], 3), Build("MLP", 6, [10], 3))


@pytest.mark.points(1)
@pytest.mark.property("gradient flow")
def test_every_mlp_parameter_gets_a_gradient(submission):
    """One backward pass reaches the weight and bias of every layer."""
    checks.every_parameter_gets_gradient(submission, model=mlp(4, [12, 12], 3), patch=TRUSTED_RELU,
                                         args=(randn(32, 4).float(),), prop="gradient flow",
                                         hint="register every layer (nn.ModuleList, not a Python list) and use each one in forward")


# -- training ------------------------------------------------------------------------------

SMALL = trusted_mlp(2, 8, 3)


def _train_request(*, state_dict, X, y, rng=0, **train_kwargs):
    """The `train` probe's request: SMALL in float64 trained with the subject's
    train_classifier(**train_kwargs); `rng` seeds the global random state before the run (a
    correct loop does not depend on it)."""
    return dict(seed=rng, model=SMALL, state_dict=state_dict, train="train_classifier", X=X, y=y, train_kwargs=train_kwargs,
                dtype=torch.float64)


def _record(result):
    if not isinstance(result, (dict, Raised)):
        fail("training", "train_classifier's run gave back no record of its training")
    return result


def _train(subject, *, allow_error=False, **request):
    """One run of `_train_request(**request)`: its record of the training."""
    return _record(subject.run("train", allow_error=allow_error, **_train_request(**request)))


def _replays(result, *, sd, X, y, lr, epochs, prop, hint):
    """Whether the weights a run of `epochs` returned are the judge's replay of the batches it
    reports (a record of more than `epochs` passes over `X` fails before any replay)."""
    batches = replay.recorded_batches(result, X, prop, hint, epochs=epochs)
    replayed = replay.replay(SMALL, sd, X, y, batches, lr=lr, dtype=torch.float64, epochs=epochs, prop=prop, hint=hint)["state_dict"]
    return replay.same_weights(result.get("state_dict"), replayed)


def _order(result, X, prop, hint, *, epochs):
    """The order in which a run of `epochs` visited the samples, its epochs checked to visit each once."""
    epochs = replay.epochs_of(replay.recorded_batches(result, X, prop, hint, epochs=epochs), len(X), prop, hint)
    return torch.cat([torch.cat(epoch) for epoch in epochs]), epochs


def _expect_same_run(actual, expected, what, prop, hint):
    """Two runs of the student's loop gave the same losses and weights."""
    checks.modules.compare_nested(actual.get("losses"), expected.get("losses"), f"the losses of {what}", prop, hint)
    got = actual.get("state_dict") if isinstance(actual.get("state_dict"), dict) else {}
    for name, value in plain_weights(expected.get("state_dict"), "the trained weights", prop, hint).items():
        checks.expect_close(got.get(name), value, f"`{name}` after {what}", prop, hint=hint)


def _expect_record_followed(submission, *, sd, X, y, kwargs, order, seed, other, prop, hint):
    """The order a one-epoch run with `seed` reported is the order its loop follows: on data
    rearranged so that this order meets the rows `other` (a run with another seed) visited,
    `seed` must train exactly as `other` did (`replay.rearranged`)."""
    other_order, _ = _order(other, X, prop, hint, epochs=kwargs["epochs"])
    X2, y2 = replay.rearranged(X, y, order, other_order, prop=prop, hint=hint)
    again = _train(submission, rng=9, state_dict=sd, X=X2, y=y2, **{**kwargs, "seed": seed})
    _expect_same_run(again, other, "a run whose data was rearranged to put another seed's order in its place",
                     prop, hint + " — the loop must visit the samples in the order it reports, drawn from `seed` alone")


# The run the training-loop test grades.  The mini-batch test repeats it (the same request,
# so a loop cannot pass one and not the other): when it replays, the student's steps are
# Adam steps, and the batches of its other runs are checked by the judge's replay too.
LOOP_DATA = (20 * randn(60, 2, seed=7), torch.arange(60) % 3)  # gradient norms above 1: a clipped step strays
LOOP_KWARGS = dict(epochs=3, lr=0.03, batch_size=25, seed=4)


@pytest.mark.points(2)
@pytest.mark.property("training loop")
@pytest.mark.trains
def test_training_steps_are_adam_steps(reference, submission):
    """Each optimiser step is Adam(lr) on the mean cross-entropy of its own batch (gradients cleared), for `epochs` epochs: the judge replays the batches the model was given and gets the returned weights."""
    prop, hint = "training loop", "Adam on model.parameters() with lr, F.cross_entropy, and optimizer.zero_grad() before each backward"
    sd = checks.reference_state_dict(reference, SMALL, torch.float64)
    X, y = LOOP_DATA
    epochs = LOOP_KWARGS["epochs"]
    result = _train(submission, state_dict=sd, X=X, y=y, **LOOP_KWARGS)
    losses = result.get("losses") if isinstance(result, dict) else None
    if not isinstance(losses, (list, tuple)) or len(losses) != epochs:  # a tuple of floats is a sequence of losses too
        got = f"{len(losses)} values" if isinstance(losses, (list, tuple)) else checks.base.describe(losses)
        fail(prop, f"train_classifier should return one loss per epoch ({epochs} for epochs={epochs}), got {got}", hint)
    plain_weights(result.get("state_dict"), "the trained weights", prop, hint)
    if not _replays(result, sd=sd, X=X, y=y, lr=LOOP_KWARGS["lr"], epochs=epochs, prop=prop, hint=hint):
        fail(prop, "the trained weights are not those of Adam steps on the batches the model was given", hint)


@pytest.mark.points(1)
@pytest.mark.property("mean loss per epoch")
@pytest.mark.trains
def test_epoch_loss_is_mean_over_samples(reference, submission):
    """With lr=0 the weights stay put, so each epoch's loss is the mean loss over all samples; with lr=0.05 it is
    the judge's replay of the recorded batches, each batch's loss weighted by its size."""
    prop, hint = "mean loss per epoch", ("weight each batch's mean loss by its size and divide by the number of samples (the last batch is smaller); "
                                         "the loss is F.cross_entropy of the raw logits (no softmax before it)")
    sd = checks.reference_state_dict(reference, SMALL, torch.float64)
    X, y = randn(100, 2, seed=8), torch.arange(100) % 3
    kwargs = dict(epochs=2, lr=0.0, batch_size=64, seed=1)
    expected = _train(reference, state_dict=sd, X=X, y=y, **kwargs)["losses"]
    actual = _train(submission, state_dict=sd, X=X, y=y, **kwargs)["losses"]
    checks.modules.compare_nested(actual, expected, "the losses per epoch", prop, hint)
    # while training too: the losses of the steps the run took (a loop whose steps are wrong loses their own tests)
    kwargs = {**kwargs, "lr": 0.05}
    result = _train(submission, state_dict=sd, X=X, y=y, **kwargs)
    expected = replay.replayed_epoch_losses(result, SMALL, sd, X, y, lr=kwargs["lr"], epochs=kwargs["epochs"], dtype=torch.float64,
                                            prop=prop, hint=hint)
    if expected is not None:
        checks.modules.compare_nested(result.get("losses"), expected, "the losses per epoch with lr=0.05", prop, hint)
    elif verdicts.passed("test_training_steps_are_adam_steps"):  # the loop's steps replay: this run's record is not the loop's
        fail(prop, "the run with lr=0.05 did not come back with a record of its batches that replays to its weights, though "
                   "the loop's steps replay in test_training_steps_are_adam_steps", hint)


@pytest.mark.points(1)
@pytest.mark.property("mini-batches")
@pytest.mark.trains
def test_minibatches_follow_batch_size(reference, submission):
    """An epoch visits every sample once, in batches of `batch_size` rows (the last one smaller, here a single row), one optimiser step each;
    batch_size=64 when left out."""
    prop = "mini-batches"
    hint = "split each epoch's shuffled order into consecutive batches of batch_size rows (the last may be smaller) and take one optimiser step per batch"
    sd = checks.reference_state_dict(reference, SMALL, torch.float64)
    X, y = randn(100, 2, seed=12), torch.arange(100) % 3
    kwargs = dict(epochs=1, lr=0.02, batch_size=33, seed=3)
    result = _train(submission, state_dict=sd, X=X, y=y, **kwargs)
    order, epochs = _order(result, X, prop, hint, epochs=kwargs["epochs"])
    sizes = replay.sizes_of(epochs[0])
    if sizes != [33, 33, 33, 1]:
        last = ": the smaller batch should be the last" if sorted(sizes, reverse=True) == [33, 33, 33, 1] else ", not of batch_size rows"
        fail(prop, f"an epoch trained on batches of {', '.join(map(str, sizes))} rows{last}", hint)
    default = _train(submission, state_dict=sd, X=X, y=y, **{k: v for k, v in kwargs.items() if k != "batch_size"})
    sizes = replay.sizes_of(_order(default, X, prop, hint, epochs=kwargs["epochs"])[1][0])
    if sizes != [64, 36]:
        fail(prop, f"with batch_size left out, an epoch of 100 samples trained on batches of {', '.join(map(str, sizes))} rows, "
                   "not of 64 and 36", "keep the signature's default, batch_size=64")
    # Is the record what the loop did?  Where the training-loop test's run replays, the judge
    # replays this one too; elsewhere the order is checked against the loop's own behaviour
    # (residual: a loop failing the training-loop test could misreport its batch sizes).
    loop = _train(submission, state_dict=sd, X=LOOP_DATA[0], y=LOOP_DATA[1], allow_error=True, **LOOP_KWARGS)
    try:
        anchored = isinstance(loop, dict) and _replays(loop, sd=sd, X=LOOP_DATA[0], y=LOOP_DATA[1], lr=LOOP_KWARGS["lr"],
                                                       epochs=LOOP_KWARGS["epochs"], prop=prop, hint=hint)
    except checks.CheckFailed:
        anchored = False
    if anchored:
        if not _replays(result, sd=sd, X=X, y=y, lr=kwargs["lr"], epochs=kwargs["epochs"], prop=prop, hint=hint):
            fail(prop, "the weights train_classifier returned are not those of its steps on the batches the model was given", hint)
    else:
        other = _train(submission, state_dict=sd, X=X, y=y, **{**kwargs, "seed": 4})
        _expect_record_followed(submission, sd=sd, X=X, y=y, kwargs=kwargs, order=order, seed=3, other=other, prop=prop, hint=hint)


@pytest.mark.points(1)
@pytest.mark.property("determinism")
@pytest.mark.trains
def test_same_seed_same_training(reference, submission):
    """The same seed gives identical batches, losses and weights over two epochs, whatever the global random state;
    seed=0 when left out."""
    prop, hint = "determinism", "draw the shuffling from a torch.Generator seeded with `seed` (not the global RNG state)"
    sd = checks.reference_state_dict(reference, SMALL, torch.float64)
    X, y = randn(100, 2, seed=9), torch.arange(100) % 3
    kwargs = dict(epochs=1, lr=0.01, batch_size=20, seed=5)
    first = _train(submission, rng=1, state_dict=sd, X=X, y=y, **kwargs)
    restart(submission)  # a fresh worker: nothing the first run kept (a cache, a table of orders) reaches the second
    second = _train(submission, rng=2, state_dict=sd, X=X, y=y, **kwargs)
    order, _ = _order(first, X, prop, hint, epochs=kwargs["epochs"])
    if not torch.equal(_order(second, X, prop, hint, epochs=kwargs["epochs"])[0], order):
        fail(prop, "a second run with the same seed visited the samples in another order", hint)
    _expect_same_run(second, first, "a second run with the same seed", prop, hint)
    other = _train(submission, rng=3, state_dict=sd, X=X, y=y, **{**kwargs, "seed": 6})
    _expect_record_followed(submission, sd=sd, X=X, y=y, kwargs=kwargs, order=order, seed=5, other=other, prop=prop, hint=hint)
    # the later epochs' orders come from the seed too
    two = [_train(submission, rng=rng, state_dict=sd, X=X, y=y, **{**kwargs, "epochs": 2}) for rng in (4, 5)]
    if not torch.equal(*(_order(run, X, prop, hint, epochs=2)[0] for run in two)):
        fail(prop, "a second two-epoch run with the same seed visited the samples in another order over its two epochs", hint)
    _expect_same_run(two[1], two[0], "a second two-epoch run with the same seed", prop, hint)
    # seed left out: the run of seed=0, whatever the global random state; each in a fresh
    # worker, so that only the default tells the two apart (not a count of runs)
    restart(submission)
    default = _train(submission, rng=7, state_dict=sd, X=X, y=y, **{k: v for k, v in kwargs.items() if k != "seed"})
    restart(submission)
    zero = _train(submission, rng=8, state_dict=sd, X=X, y=y, **{**kwargs, "seed": 0})
    if not torch.equal(_order(default, X, prop, hint, epochs=1)[0], _order(zero, X, prop, hint, epochs=1)[0]):
        fail(prop, "a run with seed left out visited the samples in another order than a run with seed=0",
             "keep the signature's default, seed=0, so that a call without a seed is reproducible too")
    _expect_same_run(default, zero, "a run with seed left out, compared with seed=0 (the default)", prop, hint)


@pytest.mark.points(1)
@pytest.mark.property("seeded shuffling")
@pytest.mark.trains
def test_seed_changes_the_shuffling(reference, submission):
    """Two seeds visit the samples in different orders (each run in a fresh worker)."""
    prop, hint = "seeded shuffling", "shuffle every epoch with a torch.Generator seeded with the `seed` argument"
    sd = checks.reference_state_dict(reference, SMALL, torch.float64)
    X, y = randn(60, 2, seed=10), torch.arange(60) % 3
    kwargs = dict(epochs=1, lr=0.01, batch_size=20, seed=6)
    first = _train(submission, state_dict=sd, X=X, y=y, **kwargs)
    restart(submission)  # a fresh worker: an order kept from the first run (a count of runs, a table) cannot tell the second apart
    other = _train(submission, state_dict=sd, X=X, y=y, **{**kwargs, "seed": 7})
    order = _order(first, X, prop, hint, epochs=kwargs["epochs"])[0]
    if torch.equal(order, _order(other, X, prop, hint, epochs=kwargs["epochs"])[0]):
        fail(prop, "seed=6 and seed=7 visited the samples in the same order", hint)
    _expect_record_followed(submission, sd=sd, X=X, y=y, kwargs=kwargs, order=order, seed=6, other=other, prop=prop, hint=hint)


@pytest.mark.points(1)
@pytest.mark.property("accuracy metric")
def test_accuracy_is_argmax_fraction(submission):
    """accuracy() returns the fraction of rows whose arg-max logit equals the label, as a Python float (also for one row, and for
    300 and 5000 rows: every row counts)."""
    prop, hint = "accuracy metric", ("the prediction is logits.argmax(dim=1) — not a threshold — over every row of X, "
                                     "and the result a Python float")
    # with both logits positive, a threshold on one logit fails; 300 and 5000 rows: more than any chunk a loop might stop after
    for classes, bias, n in ((3, 0.0, 300), (2, 3.0, 50), (3, 0.0, 1), (3, 0.0, 5000)):
        linear = torch.nn.Linear(4, classes).double()
        with torch.no_grad():
            linear.bias.fill_(bias)
        X = randn(n, 4, seed=classes)
        y = torch.arange(n) % classes
        expected = float((linear(X).argmax(1) == y).double().mean())
        got = submission.run("run", model=Build("torch.nn:Linear", 4, classes), dtype=torch.float64,
                             state_dict=dict(linear.state_dict()), call="accuracy", args=(MODEL, X, y), backward=False)["output"]
        if not isinstance(got, float):
            fail(prop, f"accuracy() should return a Python float, got {checks.base.describe(got)}", hint)
        if not within(got, expected, 1e-6):
            fail(prop, f"accuracy() returned {got:.3f} on {n} row(s) of a model whose arg-max accuracy differs "
                       "(an accuracy is a share of rows: a number between 0 and 1, never NaN)", hint)


@pytest.mark.points(3)
@pytest.mark.property("accuracy on two spirals")
@pytest.mark.trains
def test_classifier_learns_two_spirals(reference, submission):
    """An MLP with hidden sizes [64, 64] trained by your train_classifier reaches 95% on held-out spirals; the judge checks that every
    step of that training is an Adam step on its batch (the accuracy must be the loop's), and that it ran all 30 epochs (its losses)."""
    X, y = two_spirals(300, seed=0)  # 600 points: 10 batches of 64 an epoch
    X_eval, y_eval = two_spirals(300, seed=1)
    model = trusted_mlp(2, 64, 64, 2)
    sd = checks.reference_state_dict(reference, model)
    kwargs = dict(epochs=30, lr=1e-2, batch_size=64, seed=0)
    steps = kwargs["epochs"] * -(-len(X) // kwargs["batch_size"])
    checks.trained_accuracy(submission, evaluator=reference, model=model, state_dict=sd, train="train_classifier", X=X, y=y, X_eval=X_eval,
                            y_eval=y_eval, num_classes=2, train_kwargs=kwargs, checked_steps=2 * steps, every_epoch=True,
                            threshold=0.95, prop="accuracy on two spirals",
                            hint="a linear model reaches only ≈ 65% here: the hidden ReLU layers must bend the boundary, and every step must update the weights")
