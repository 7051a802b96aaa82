"""Hidden tests of the transfer assignment (instructor-only).

The grader builds the provided `SmallNet` (and a BatchNorm-free `TinyNet`) from trusted
code, freezes and replaces heads itself, and then calls ONE of the student's functions
per probe — so a bug costs the points of the function it is in, once.  The transfer
experiment runs the student's `fine_tune` twice per seed (pretrained backbone frozen
with a new head, and the same network from scratch); only logits come back, the labels
stay here.
"""

import math

import pytest
import torch

from autograder import checks
from autograder.checks.base import fail
from autograder.data.digits import target_task
from autograder.data.transfer import SmallNet, pretrained_state_dict
from autograder.worker.probes import Build
from autograder.worker.probes.transfer import TinyNet
from autograder.judge.subject import Raised

SMALLNET = "autograder.data.transfer:SmallNet"
TINY = Build("autograder.worker.probes.transfer:TinyNet")


SMALLNET_PARAMETERS = [name for name, _ in SmallNet(2).named_parameters()]
TINY_PARAMETERS = [name for name, _ in TinyNet().named_parameters()]


def named(names, *prefixes):
    """The parameter names that start with one of `prefixes`: the probes take full names."""
    return [name for name in names if name.startswith(prefixes)]


def randn(*shape, seed=0, dtype=torch.float64):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=dtype)


def images(n, seed=0):
    return torch.rand(n, 1, 8, 8, generator=torch.Generator().manual_seed(seed))


def pretrained_with_new_head(reference, num_classes, seed):
    """The shipped pretrained weights with a fresh, seeded head for `num_classes`."""
    state = dict(pretrained_state_dict())
    head = checks.reference_state_dict(reference, Build("torch.nn:Linear", 64, num_classes), seed=seed)
    state.update({f"head.{k}": v for k, v in head.items()})
    return state


# -- freeze ----------------------------------------------------------------------------------

def _flags(subject, trainable, start=None, model=None):
    result = subject.run("freeze_flags", model=model or Build(SMALLNET), trainable=trainable, start=start)
    return result["requires_grad"]


@pytest.mark.points(2)
@pytest.mark.property("freeze by prefix")
def test_freeze_follows_the_prefixes(submission):
    """requires_grad is True exactly for names starting with a prefix (tuple or list), also on re-freezing."""
    prop, hint = "freeze by prefix", "requires_grad = name.startswith(prefixes) for EVERY parameter: True for matches, False for the rest"
    names = [n for n, _ in SmallNet().named_parameters()]
    cases = [((), None), (("head",), None), (["backbone.fc", "head"], None), (("backbone.bn",), None),
             (("head",), False), (("backbone.conv2",), True), ((), True)]
    for trainable, start in cases:
        got = _flags(submission, trainable, start)
        want = {n: n.startswith(tuple(trainable)) for n in names}
        if got != want:
            wrong = sorted(n for n in want if got.get(n) != want[n])
            before = "" if start is None else f" (all parameters had requires_grad={start} before)"
            fail(prop, f"freeze(model, {trainable!r}){before} set the wrong requires_grad for {wrong[:4]}", hint)


@pytest.mark.points(1)
@pytest.mark.property("freeze by prefix")
def test_freeze_takes_a_single_string_as_one_prefix(submission):
    """freeze(model, "backbone.bn2") keeps only backbone.bn2.* trainable (a string is one prefix, not characters)."""
    prop, hint = "freeze by prefix", "a str is itself iterable: wrap a single string in a tuple before using it as prefixes"
    for trainable in ("backbone.bn2", "head"):
        got = _flags(submission, trainable)
        trainable_names = sorted(n for n, flag in got.items() if flag)
        if trainable_names != sorted(n for n in got if n.startswith(trainable)):
            fail(prop, f"freeze(model, {trainable!r}) left {trainable_names} trainable", hint)


# -- replace_head ----------------------------------------------------------------------------

def _replace(subject, model, num_classes, **kwargs):
    return subject.run("replace_head_facts", model=model, num_classes=num_classes, **kwargs)


@pytest.mark.points(1)
@pytest.mark.property("new head shape")
def test_replace_head_installs_a_linear_of_the_right_shape(submission):
    """model.head becomes nn.Linear(old in_features, num_classes) with a bias; the model itself is returned."""
    prop, hint = "new head shape", "model.head = nn.Linear(model.head.in_features, num_classes) (bias=True), then return model"
    for model, x, in_features, num_classes in ((Build(SMALLNET, 10), images(3), 64, 2), (TINY, randn(3, 6, dtype=torch.float32), 8, 5)):
        facts = _replace(submission, model, num_classes, x=x)
        head = facts["head"]
        if not facts["same_model"]:
            fail(prop, "replace_head should change the model it is given and return that same model", hint)
        if head is None or head["type"] != "torch.nn.modules.linear.Linear":
            fail(prop, f"model.head should be an nn.Linear, got {head['type'] if head else 'no module'}", hint)
        if head["weight_shape"] != [num_classes, in_features]:
            fail(prop, f"the new head's weight has shape {tuple(head['weight_shape'])}, expected ({num_classes}, {in_features}): "
                       "in_features is the old head's", hint)
        if head["bias_shape"] != [num_classes]:
            fail(prop, "the new head has no bias of shape (num_classes,)", hint)
        if facts["output_shape"] != [3, num_classes]:
            got = facts["output_shape"]
            fail(prop, f"after replace_head the model's output for 3 inputs " + (
                f"has shape {tuple(got)}, expected (3, {num_classes})" if isinstance(got, list) else f"raised {got}"), hint)


@pytest.mark.points(1)
@pytest.mark.property("new head dtype and device")
def test_replace_head_follows_the_old_heads_dtype_and_device(submission):
    """On a float64 model the new head is float64; on a model on the `meta` device the new head is there too."""
    prop, hint = "new head dtype and device", "create the layer with dtype=old.weight.dtype, device=old.weight.device"
    for kwargs, want_dtype, want_device in (({"dtype": torch.float64}, "torch.float64", "cpu"),
                                            ({"device": "meta"}, "torch.float32", "meta")):
        head = _replace(submission, Build(SMALLNET, 10), 3, **kwargs)["returned_head"]
        if head is None:
            fail(prop, "replace_head should return the model, with its new head", hint)
        if head["dtypes"] != [want_dtype]:
            fail(prop, f"the old head was {want_dtype}, the new head is {', '.join(head['dtypes'])}", hint)
        if head["devices"] != [want_device]:
            fail(prop, f"the old head was on {want_device}, the new head is on {', '.join(head['devices'])}", hint)


@pytest.mark.points(1)
@pytest.mark.property("fresh head")
def test_replace_head_draws_fresh_weights(submission):
    """Even with as many classes as before, the head gets new, trainable weights from U(-k, k), k = 1/sqrt(in_features)."""
    prop, hint = "fresh head", "always create a NEW nn.Linear (never keep or reuse the old head, even when num_classes is unchanged)"
    sd = dict(pretrained_state_dict())
    for seed in (0, 1):
        facts = submission.run("replace_head_facts", seed=seed, model=Build(SMALLNET, 10), state_dict=sd, num_classes=10, frozen=True)
        head = facts["returned_head"]
        if head is None or head["weight"] is None:
            fail(prop, "replace_head should return the model with a new head that has a weight", hint)
        if head["reuses_old_parameters"]:
            fail(prop, "the new head reuses the old head's parameters", hint)
        weight = checks.expect_tensor(head["weight"], "the new head's weight", prop, hint=hint)
        if weight.shape == facts["old_head"]["weight"].shape and torch.equal(weight, facts["old_head"]["weight"]):
            fail(prop, "the new head has the old head's (pretrained) weights", hint)
        if not head["requires_grad"]:
            fail(prop, "the new head's parameters should be trainable (requires_grad) even when the old head was frozen", hint)
        k = 1 / math.sqrt(weight.shape[1])
        values = [weight] + ([head["bias"]] if head["bias"] is not None else [])
        if any(float(v.abs().max()) > k * 1.0001 for v in values):
            fail(prop, "the new head has values outside (-k, k), k = 1/sqrt(in_features): initialise it as nn.Linear does", hint)
        if abs(float(weight.double().std()) - k / math.sqrt(3)) > 0.2 * k / math.sqrt(3):
            fail(prop, "the new head's weights are not spread like U(-k, k): initialise it as nn.Linear does", hint)


# -- extract_features ------------------------------------------------------------------------

def _features(subject, **kwargs):
    return subject.run("extract_features_run", model=Build(SMALLNET, 10), state_dict=dict(pretrained_state_dict()), **kwargs)


@pytest.mark.points(1)
@pytest.mark.property("features")
def test_extract_features_is_the_backbone_in_eval_mode(reference, submission):
    """The features equal model.backbone(X) in eval mode (BatchNorm with running statistics), shape (N, 64)."""
    prop, hint = "features", "call model.eval() first, then return model.backbone(X) — not the head's output"
    for n, seed in ((7, 0), (1, 1)):
        expected = _features(reference, X=images(n, seed))
        actual = _features(submission, X=images(n, seed))
        checks.expect_close(actual["output"], expected["output"], f"the features of {n} image(s)", prop, hint=hint)
        if actual["seen"]["modules_in_train_mode"]:
            fail(prop, f"{actual['seen']['modules_in_train_mode'][0]} ran in training mode", hint)


@pytest.mark.points(1)
@pytest.mark.property("no graph")
def test_extract_features_builds_no_graph(submission):
    """The backbone runs under torch.no_grad() (not inference_mode): the result has no graph and is a normal tensor."""
    prop, hint = "no graph", "wrap the forward pass in `with torch.no_grad():` (torch.inference_mode() makes tensors autograd cannot use later)"
    facts = _features(submission, X=images(5))
    checks.expect_tensor(facts["output"], "the features", prop, shape=(5, 64), hint=hint)
    if facts["requires_grad"] or facts["has_graph"]:
        fail(prop, "the features require grad: they carry the autograd graph of the backbone", hint)
    if facts["is_inference"] or facts["seen"]["inference_mode"]:
        fail(prop, "the features were computed in inference mode", hint)
    if facts["seen"]["calls"] == 0:
        fail(prop, "the backbone was never called", hint)
    if facts["seen"]["grad_enabled"]:
        fail(prop, "the backbone ran with gradients enabled (a .detach() afterwards still builds the graph)", hint)


@pytest.mark.points(1)
@pytest.mark.property("training modes restored")
def test_extract_features_restores_every_training_mode(submission):
    """Afterwards every submodule is in the mode it was in before — all training, or a mix of train and eval."""
    prop, hint = "training modes restored", "remember module.training for every module in model.modules() and restore each one (not just model.train())"
    for eval_modules in ((), ("backbone.bn1", "head"), ("", "backbone.fc")):
        facts = _features(submission, X=images(4), eval_modules=eval_modules)
        changed = sorted(n or "the model itself" for n, mode in facts["before"].items() if facts["after"].get(n) != mode)
        if changed:
            fail(prop, f"the training mode of {changed[:3]} changed", hint)


# -- fine_tune ---------------------------------------------------------------------------------

def _fine_tune(subject, **kwargs):
    return subject.run("fine_tune_run", **kwargs)


@pytest.mark.points(2)
@pytest.mark.property("fine-tuning loop")
def test_fine_tuning_matches_reference(reference, submission):
    """With one batch per epoch, losses and final weights equal the reference's (Adam on trainable parameters, cross-entropy, zero_grad)."""
    prop, hint = "fine-tuning loop", "Adam over the trainable parameters with lr, F.cross_entropy, and optimizer.zero_grad() before each backward"
    sd = checks.reference_state_dict(reference, TINY, torch.float64)
    X, y = randn(24, 6, seed=7), torch.arange(24) % 3
    request = dict(model=TINY, state_dict=sd, dtype=torch.float64, X=X, y=y, trainable=named(TINY_PARAMETERS, "backbone.fc2", "head"),
                   train_kwargs=dict(epochs=4, lr=0.05, batch_size=64, seed=0))
    expected, actual = _fine_tune(reference, **request), _fine_tune(submission, **request)
    checks.modules.compare_nested(actual["losses"], expected["losses"], "the losses per epoch", prop, hint)
    for name, value in expected["state_dict"].items():
        checks.expect_close(actual["state_dict"].get(name), value, f"`{name}` after fine-tuning", prop, hint=hint)


@pytest.mark.points(1)
@pytest.mark.property("mean loss per epoch")
def test_epoch_loss_is_the_mean_over_samples(reference, submission):
    """With lr=0 the weights stay put, so each epoch's loss is the mean loss over all samples (last batch smaller)."""
    prop, hint = "mean loss per epoch", "weight each batch's mean loss by its size and divide by the number of samples"
    sd = checks.reference_state_dict(reference, TINY, torch.float64)
    request = dict(model=TINY, state_dict=sd, dtype=torch.float64, X=randn(40, 6, seed=8), y=torch.arange(40) % 3,
                   trainable=named(TINY_PARAMETERS, "head"), train_kwargs=dict(epochs=2, lr=0.0, batch_size=16, seed=1))
    expected, actual = _fine_tune(reference, **request)["losses"], _fine_tune(submission, **request)["losses"]
    checks.modules.compare_nested(actual, expected, "the losses per epoch", prop, hint)


@pytest.mark.points(1)
@pytest.mark.property("determinism")
def test_same_seed_same_fine_tuning(reference, submission):
    """The same seed gives identical losses and weights, whatever the global random state."""
    prop, hint = "determinism", "draw the shuffling from a torch.Generator seeded with `seed` (not the global random state)"
    sd = checks.reference_state_dict(reference, TINY, torch.float64)
    request = dict(model=TINY, state_dict=sd, dtype=torch.float64, X=randn(50, 6, seed=9), y=torch.arange(50) % 3,
                   trainable=named(TINY_PARAMETERS, "backbone.fc2", "head"), train_kwargs=dict(epochs=2, lr=0.01, batch_size=8, seed=5))
    first = submission.run("fine_tune_run", seed=1, **request)
    second = submission.run("fine_tune_run", seed=2, **request)
    checks.modules.compare_nested(second["losses"], first["losses"], "the losses of a second run with the same seed", prop, hint)
    for name, value in first["state_dict"].items():
        checks.expect_close(second["state_dict"].get(name), checks.expect_tensor(value, f"`{name}`", prop, hint=hint),
                            f"`{name}` after a second run with the same seed", prop, hint=hint)


@pytest.mark.points(1)
@pytest.mark.property("no trainable parameter")
def test_fine_tune_without_trainable_parameters_raises(submission):
    """A completely frozen model raises ValueError."""
    prop, hint = "no trainable parameter", "collect the parameters with requires_grad; if there are none, raise ValueError"
    result = submission.run("fine_tune_run", allow_error=True, model=Build(SMALLNET, 2), state_dict=None, trainable=[],
                            X=images(8), y=torch.arange(8) % 2, train_kwargs=dict(epochs=1, lr=1e-2))
    if not isinstance(result, Raised):
        fail(prop, "fine_tune on a model with every parameter frozen raised no error", hint)
    if not result.is_a("ValueError"):
        fail(prop, f"fine_tune on a model with every parameter frozen raised {result.types[0]}, not ValueError", hint)


FROZEN_CASES = (("backbone.conv2", "head"), ("backbone.bn2", "head"))


def _frozen_run(reference, submission, trainable):
    X, y, _, _ = target_task(2, 0)
    sd = pretrained_with_new_head(reference, 2, seed=0)
    result = _fine_tune(submission, model=Build(SMALLNET, 2), state_dict=sd, trainable=named(SMALLNET_PARAMETERS, *trainable), X=X, y=y,
                        stale_grads=True, train_kwargs=dict(epochs=3, lr=1e-2, batch_size=8, seed=0))
    return sd, result


@pytest.mark.points(2)
@pytest.mark.property("frozen parameters")
def test_frozen_parameters_stay_bitwise_equal(reference, submission):
    """Parameters outside the trainable prefixes are bitwise unchanged by fine_tune — even if they carry a stale .grad."""
    prop, hint = "frozen parameters", "give the optimiser only the parameters with requires_grad (a frozen one may still hold an old .grad)"
    for trainable in FROZEN_CASES:
        before, result = _frozen_run(reference, submission, trainable)
        after = result["state_dict"]
        params = [n for n in before if not n.endswith(("running_mean", "running_var", "num_batches_tracked"))]
        for name in params:
            value = checks.expect_tensor(after.get(name), f"`{name}` after fine-tuning", prop, hint=hint)
            if not name.startswith(trainable) and not torch.equal(value, before[name]):
                fail(prop, f"frozen parameter `{name}` changed while fine-tuning with only {trainable} trainable", hint)
        if torch.equal(after["head.weight"], before["head.weight"]):
            fail(prop, "the trainable head did not change: fine_tune should still train the trainable parameters", hint)


@pytest.mark.points(2)
@pytest.mark.property("frozen buffers")
def test_frozen_normalisation_statistics_stay_bitwise_equal(reference, submission):
    """BatchNorm layers whose parameters are all frozen keep their running statistics bitwise (they stay in eval mode)."""
    prop, hint = "frozen buffers", ("after model.train(), call .eval() on every normalisation layer whose parameters are all frozen — "
                                    "in training mode BatchNorm updates running_mean / running_var even when frozen")
    for trainable in FROZEN_CASES:
        before, result = _frozen_run(reference, submission, trainable)
        for layer in ("backbone.bn1", "backbone.bn2"):
            if layer.startswith(trainable):
                continue  # a trainable BatchNorm may update its statistics
            for buffer in ("running_mean", "running_var", "num_batches_tracked"):
                name = f"{layer}.{buffer}"
                value = checks.expect_tensor(result["state_dict"].get(name), f"`{name}`", prop, hint=hint)
                if not torch.equal(value, before[name]):
                    fail(prop, f"`{name}` of a frozen BatchNorm changed while fine-tuning with only {trainable} trainable", hint)


@pytest.mark.points(1)
@pytest.mark.property("trainable parameters only")
def test_only_trainable_parameters_reach_the_optimiser(reference, submission):
    """Adam receives exactly the trainable parameters, and no frozen parameter gets a gradient at any step."""
    prop, hint = "trainable parameters only", "torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr); never re-enable requires_grad"
    X, y, _, _ = target_task(2, 1)
    sd = pretrained_with_new_head(reference, 2, seed=1)
    trainable = ("backbone.fc", "head")
    expected = named(SMALLNET_PARAMETERS, *trainable)
    result = _fine_tune(submission, model=Build(SMALLNET, 2), state_dict=sd, trainable=expected, X=X, y=y, stale_grads=True,
                        record=True, train_kwargs=dict(epochs=2, lr=1e-2, batch_size=8, seed=0))
    expected = sorted(expected)
    if not result["optimisers"] or result["steps"] == 0:
        fail(prop, "fine_tune never stepped a torch.optim.Adam optimiser", hint)
    for got in result["optimisers"]:
        if got != expected:
            extra = sorted(set(got) - set(expected))
            fail(prop, f"the optimiser got {len(got)} tensors, expected the {len(expected)} trainable parameters"
                       + (f" (also e.g. frozen `{extra[0]}`)" if extra else ""), hint)
    if result["frozen_trained"]:
        fail(prop, f"frozen parameter `{result['frozen_trained'][0]}` received a gradient during fine-tuning", hint)


# -- the transfer experiment -------------------------------------------------------------------

SHOTS, THRESHOLD, SEEDS = 2, 0.93, range(10)
BUDGET = dict(epochs=20, lr=1e-2, batch_size=10)


@pytest.mark.points(3)
@pytest.mark.property("transfer helps")
def test_transfer_beats_training_from_scratch(reference, submission):
    """Odd-or-even from 20 labels: pretrained backbone (frozen) + new head reaches 93% AND beats the same network from scratch, on 10 of 10 seeds."""
    prop = "transfer helps"
    hint = ("both runs use your fine_tune (same data, same budget); the pretrained run must keep the frozen backbone and its "
            "BatchNorm statistics exactly as they were and train the new head")
    for seed in SEEDS:
        X, y, X_test, y_test = target_task(SHOTS, seed)
        runs = {
            "pretrained": dict(state_dict=pretrained_with_new_head(reference, 2, seed=seed), trainable=named(SMALLNET_PARAMETERS, "head")),
            "from scratch": dict(state_dict=checks.reference_state_dict(reference, Build(SMALLNET, 2), seed=seed), trainable=SMALLNET_PARAMETERS),
        }
        accuracy = {}
        for name, run in runs.items():
            result = _fine_tune(submission, model=Build(SMALLNET, 2), X=X, y=y, X_eval=X_test,
                                train_kwargs=dict(BUDGET, seed=seed), **run)
            logits = checks.expect_tensor(result["logits"], f"the {name} model's logits", prop, shape=(len(X_test), 2), hint=hint)
            accuracy[name] = float((logits.argmax(1) == y_test).double().mean())
        if accuracy["pretrained"] < THRESHOLD:
            fail(prop, f"seed {seed}: the fine-tuned pretrained model reaches {accuracy['pretrained']:.2f} on held-out images, "
                       f"below the required {THRESHOLD:.2f}", hint)
        if accuracy["pretrained"] <= accuracy["from scratch"]:
            fail(prop, f"seed {seed}: fine-tuning the pretrained model ({accuracy['pretrained']:.2f}) did not beat training "
                       f"from scratch ({accuracy['from scratch']:.2f})", hint)
