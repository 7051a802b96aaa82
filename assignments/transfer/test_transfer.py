"""Public tests of the transfer assignment — run them with `nnzoo test transfer`.

One test per property the hidden tests grade, each on its own small case: which parameters
`freeze` leaves trainable (checked through their gradients), the new head's shape, dtype
and fresh weights, the features and what `extract_features` leaves behind (no graph, the
training modes), and what `fine_tune` does (its loop, its arguments, what it must leave
alone), then one run of the transfer experiment.  Every expected value is computed here
with plain PyTorch and the provided `SmallNet`.  The hidden tests check the same
properties more thoroughly, on other inputs.
"""

import math

import pytest
import torch
import torch.nn.functional as F

from autograder.checks import replay
from autograder.checks.base import expect_close, fail
from autograder.data.digits import target_task
from autograder.data.transfer import SmallNet, pretrained_state_dict
from autograder.judge.subject import Raised, restart
from autograder.worker.probes import Build
from autograder.worker.probes.transfer import ModeNet, NestedNormNet, NormNet, TinyNet, set_modes, set_trainable

SMALLNET = "autograder.data.transfer:SmallNet"
TINY = Build("autograder.worker.probes.transfer:TinyNet")
MODENET = Build("autograder.worker.probes.transfer:ModeNet")
NORMNET = Build("autograder.worker.probes.transfer:NormNet")
NESTED_NORMNET = Build("autograder.worker.probes.transfer:NestedNormNet")
F64 = torch.float64
PARAMETERS = [name for name, _ in SmallNet(2).named_parameters()]



def generator(seed):
    return torch.Generator().manual_seed(seed)


def images(n, seed=0, dtype=torch.float32):
    return torch.rand(n, 1, 8, 8, generator=generator(seed)).to(dtype)


def randn(*shape, seed=0, dtype=F64):
    return torch.randn(*shape, generator=generator(seed), dtype=dtype)


def state_of(model):
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


def pretrained_with_new_head(seed=0):
    state = dict(pretrained_state_dict())
    torch.manual_seed(seed)
    state.update({f"head.{k}": v for k, v in torch.nn.Linear(64, 2).state_dict().items()})
    return state


def named(*prefixes):
    return [name for name in PARAMETERS if name.startswith(prefixes)]


def fresh(cls, seed, **kwargs):
    torch.manual_seed(seed)
    return cls(**kwargs)


# -- freeze ----------------------------------------------------------------------------------

@pytest.mark.timeout(20)
@pytest.mark.points(1)
@pytest.mark.property("freeze by prefix")
def test_freeze_leaves_only_the_prefixes_trainable(submission):
    """freeze(model, "head"), freeze(model, ("backbone.fc", "head")), freeze(model, "backbone.bn2"), freeze(model, ("bn1", "head")) and
    freeze(model, iter(["backbone.fc", "head"])), freeze(model, ("head.bias", "backbone.bn1.weight")): exactly the parameters whose names
    START with a prefix get gradients ("bn1" is inside "backbone.bn1.weight", not its start; a prefix may name one parameter)."""
    prop, hint = "freeze by prefix", ("requires_grad = name.startswith(prefixes) for every parameter; a single string is ONE prefix, "
                                      "and an iterator can be read only once (make a tuple of it first)")
    model = fresh(SmallNet, 0, num_classes=3).double()
    x, cotangent = images(2, dtype=F64), randn(2, 3, seed=1)
    for trainable, one_pass in (("head", False), (("backbone.fc", "head"), False), ("backbone.bn2", False), (("bn1", "head"), False),
                                (("backbone.fc", "head"), True), (("head.bias", "backbone.bn1.weight"), False)):
        grads = submission.run("freeze_grads", model=Build(SMALLNET, 3), state_dict=state_of(model), dtype=F64, x=x, cotangent=cotangent,
                               trainable=trainable, one_pass=one_pass)["grads"]
        call = f"freeze(model, iter({list(trainable)!r}))" if one_pass else f"freeze(model, {trainable!r})"
        prefixes = (trainable,) if isinstance(trainable, str) else trainable
        set_trainable(model, named(*prefixes))
        model.zero_grad()
        model.eval()(x).backward(cotangent)
        if sorted(n for n, g in grads.items() if g is not None) != sorted(named(*prefixes)):
            fail(prop, f"{call} left {sorted(n for n, g in grads.items() if g is not None)} trainable", hint)
        for name in named(*prefixes):
            expect_close(grads[name], model.get_parameter(name).grad, f"the gradient of `{name}` after {call}", prop, hint=hint)


# -- replace_head ----------------------------------------------------------------------------

def _new_head(submission, num_classes, x, state, dtype=None, frozen=False, seed=0):
    """replace_head on a SmallNet(10) with `state`, torch seeded with `seed`; the reply, and the
    output a SmallNet with the returned weights gives for `x` (computed here)."""
    result = submission.run("replace_head_run", model=Build(SMALLNET, 10), state_dict=state, dtype=dtype, num_classes=num_classes,
                            x=x, frozen=frozen, cotangent=torch.ones(len(x), num_classes, dtype=x.dtype), seed=seed)
    returned = result.get("returned")
    if not isinstance(returned, dict):
        fail("new head shape", "replace_head should return the model it changed", "end with `return model`")
    return result, returned


def _same_model(result, returned):
    """The model given to replace_head is the model it returned: the same weights after the call."""
    given = result.get("state_dict", {})
    if given.keys() != returned.keys() or not all(torch.equal(given[k], v) for k, v in returned.items()):
        fail("new head shape", "the model given to replace_head keeps its old head: replace_head should change that model and return it",
             "assign the new layer to model.head (no copy of the model) and return model")


@pytest.mark.timeout(20)
@pytest.mark.points(1)
@pytest.mark.property("new head shape")
def test_replace_head_gives_a_linear_with_the_old_in_features(submission):
    """replace_head(SmallNet(10), 2) gives model.head = Linear(64, 2) with a bias; the model outputs (B, 2), also for B = 1;
    the rest of the model stays trainable; a new head has a bias also where the old head had none; the model given is the one
    changed and returned."""
    prop, hint = "new head shape", "nn.Linear(model.head.in_features, num_classes), assigned to model.head; return the model"
    state = state_of(fresh(SmallNet, 1, num_classes=10))
    for x in (images(3), images(1, seed=1)):
        result, returned = _new_head(submission, 2, x, state)
        _same_model(result, returned)
        frozen = sorted(name for name, grad in result.get("grads", {}).items() if grad is None)
        if frozen:
            fail(prop, f"after replace_head, {frozen[:3]} got no gradient: replace_head changes the head only, never what is trainable",
                 "assign the new layer to model.head and leave requires_grad of the rest as it was")
        shapes = {k: tuple(v.shape) for k, v in returned.items() if k.startswith("head.")}
        if shapes != {"head.weight": (2, 64), "head.bias": (2,)}:
            fail(prop, f"the new head has {shapes}, expected weight (2, 64) and bias (2,)", hint)
        model = SmallNet(2)
        model.load_state_dict(returned)
        with torch.no_grad():
            expect_close(result.get("output"), model.eval()(x), f"the model's output for {len(x)} image(s)", prop, hint=hint)
    returned = submission.run("replace_head_run", model=Build(TINY.name, head_bias=False), num_classes=5)["returned"]
    if "head.bias" not in returned:
        fail(prop, "the old head had no bias, and the new head has none either", "the new head always has a bias (bias=True), "
                                                                                 "whatever the old head had")


@pytest.mark.timeout(20)
@pytest.mark.points(1)
@pytest.mark.property("new head dtype and device")
def test_replace_head_keeps_the_old_heads_dtype_and_device(submission):
    """On a float64 model the new head is float64, also where the head alone is float64; on a model on the `meta` device it is
    there too, also where the head alone is there."""
    prop, hint = "new head dtype and device", "create the layer with dtype=old.weight.dtype, device=old.weight.device"
    _, returned = _new_head(submission, 3, images(2, dtype=F64), state_of(fresh(SmallNet, 2, num_classes=10)), dtype=F64)
    if returned["head.weight"].dtype != F64:
        fail(prop, f"the old head was torch.float64, the new head is {returned['head.weight'].dtype}", hint)
    returned = submission.run("replace_head_run", model=Build(TINY.name, head_dtype="float64"), num_classes=5)["returned"]
    if returned["head.weight"].dtype != F64:
        fail(prop, f"the old head alone was torch.float64 (the backbone float32), the new head is {returned['head.weight'].dtype}",
             "take the dtype from the old head (model.head.weight.dtype), not from the model's first parameter")
    devices = submission.run("replace_head_run", model=Build(SMALLNET, 10), device="meta", num_classes=3)["devices"]
    if devices.get("head.weight") != "meta":
        fail(prop, f"the old head was on meta, the new head is on {devices.get('head.weight')}", hint)
    devices = submission.run("replace_head_run", model=Build(SMALLNET, 10), head_device="meta", num_classes=3)["devices"]
    if devices.get("head.weight") != "meta":
        fail(prop, f"the old head alone was on meta (the backbone on the cpu), the new head is on {devices.get('head.weight')}",
             "take the device from the old head (model.head.weight.device), not from the model's first parameter")


@pytest.mark.timeout(20)
@pytest.mark.points(1)
@pytest.mark.property("fresh head")
def test_replace_head_draws_a_fresh_head(submission):
    """replace_head(load_pretrained(), 10) — as many classes as before — still gives new weights and bias from U(-k, k),
    k = 1/sqrt(64), drawn at random: another seed, another head; a new layer with a bias also where the old head (of as many
    classes) had none."""
    prop, hint = "fresh head", "always create a NEW nn.Linear, even when num_classes is unchanged"
    old = dict(pretrained_state_dict())
    heads = []
    for seed in (0, 1):
        restart(submission)  # each seed from a fresh start: a head that counts its calls is not a random draw
        _, returned = _new_head(submission, 10, images(2), old, frozen=True, seed=seed)
        if torch.equal(returned["head.weight"], old["head.weight"]):
            fail(prop, "the new head has the old head's (pretrained) weights", hint)
        if not float(returned["head.weight"].abs().max()) <= 1 / math.sqrt(64) * 1.0001:  # written so, a NaN fails too
            fail(prop, "the new head has values outside (-k, k), k = 1/sqrt(in_features): initialise it as nn.Linear does", hint)
        bias = returned.get("head.bias")
        if isinstance(bias, torch.Tensor) and not float(bias.double().std()) >= 0.25 / math.sqrt(64 * 3):  # a quarter of the spread of U(-k, k)
            fail(prop, "the new head's bias is (nearly) one value everywhere, not drawn from U(-k, k): initialise it as nn.Linear does", hint)
        heads.append(returned["head.weight"])
    if torch.equal(*heads):
        fail(prop, "the new head's weights were the same under two random seeds: fresh weights are a random draw", hint)
    restart(submission)
    if not torch.equal(_new_head(submission, 10, images(2), old, frozen=True, seed=0)[1]["head.weight"], heads[0]):
        fail(prop, "the new head's weights differed between two runs with the same seed: nn.Linear draws them from torch's random "
                   "generator, which the seed sets (not the clock, nor numpy's generator)", hint)
    returned = submission.run("replace_head_run", model=Build(TINY.name, head_bias=False), num_classes=3)["returned"]
    if "head.bias" not in returned:
        fail(prop, "with as many classes as before (3), the new head came back without a bias, like the old head: the old head was "
                   "kept or reused", hint)


# -- extract_features ------------------------------------------------------------------------

@pytest.mark.timeout(20)
@pytest.mark.points(1)
@pytest.mark.property("features")
def test_extract_features_equal_the_pretrained_backbone_in_eval_mode(submission):
    """extract_features(model, X) equals the provided backbone's output in eval mode: (N, 64), also for N = 1."""
    prop, hint = "features", "model.eval(), then model.backbone(X); keep the batch dimension"
    oracle = SmallNet(10)
    oracle.load_state_dict(pretrained_state_dict())
    for X in (images(6), images(1, seed=1)):
        result = submission.run("extract_features_run", model=Build(SMALLNET, 10), state_dict=dict(pretrained_state_dict()), X=X)
        with torch.no_grad():
            expect_close(result["output"], oracle.eval().backbone(X), f"the features of {len(X)} image(s)", prop, hint=hint)


@pytest.mark.timeout(20)
@pytest.mark.points(1)
@pytest.mark.property("no graph")
def test_extract_features_builds_no_graph(submission):
    """The features are a plain tensor: a layer trained on them later gets its gradient, and no gradient reaches the backbone;
    called inside the caller's own `torch.no_grad()` block, autograd stays off there afterwards; the model still trains afterwards."""
    prop, hint = "no graph", "compute the features under `with torch.no_grad():` (not torch.inference_mode())"
    model = fresh(TinyNet, 3)
    X, readout, cotangent = randn(4, 6, dtype=torch.float32), randn(3, 8, seed=1, dtype=torch.float32), randn(4, 3, seed=2, dtype=torch.float32)
    inside = submission.run("extract_features_run", model=TINY, state_dict=state_of(model), X=X, readout=readout, cotangent=cotangent,
                            caller_no_grad=True)
    if inside.get("readout_grad") is not None:
        fail(prop, "called inside the caller's `with torch.no_grad():` block, extract_features switched autograd back on there",
             "a `with torch.no_grad():` block puts back the grad mode the caller had; torch.set_grad_enabled(True) at the end does not")
    result = submission.run("extract_features_run", model=TINY, state_dict=state_of(model), X=X, readout=readout, cotangent=cotangent)
    reached = sorted(n for n, g in result["grads"].items() if g is not None)
    if reached:
        fail(prop, f"the features carry the backbone's autograd graph: a backward pass through them reached `{reached[0]}`", hint)
    if "readout_error" in result:
        fail(prop, f"the features cannot be used in autograd afterwards ({str(result['readout_error']).split('. ')[0][:120]})", hint)
    with torch.no_grad():
        expect_close(result["readout_grad"], cotangent.T @ model.backbone(X), "the gradient of a layer trained on the features", prop, hint=hint)
    after = submission.run("extract_features_run", model=TINY, state_dict=state_of(model), X=X, cotangent_after=randn(4, 3, seed=3, dtype=torch.float32))
    frozen = sorted(name for name, grad in after["grads_after"].items() if grad is None)
    if frozen:
        fail(prop, f"after extract_features, a backward pass through the model gave `{frozen[0]}` no gradient: the call left it frozen",
             "torch.no_grad() builds no graph for this one call; model.requires_grad_(False) freezes the model for whoever trains it next")


@pytest.mark.timeout(20)
@pytest.mark.points(1)
@pytest.mark.property("training modes restored")
def test_extract_features_restores_the_training_modes(submission):
    """Afterwards every submodule is back in its mode: ModeNet's output (each submodule adds a mark in training mode) is unchanged."""
    prop, hint = "training modes restored", "remember module.training for every module in model.modules() and restore each one"
    model = fresh(ModeNet, 4)
    X_after = randn(5, 6, seed=5, dtype=torch.float32)
    for eval_modules in ((), ("backbone.bn", "head")):
        result = submission.run("extract_features_run", model=MODENET, state_dict=state_of(model), X=randn(3, 6, dtype=torch.float32),
                                eval_modules=eval_modules, X_after=X_after)
        oracle = fresh(ModeNet, 4)
        set_modes(oracle, eval_modules)
        with torch.no_grad():
            expect_close(result["after"], oracle(X_after), f"the output after extract_features (eval before: {list(eval_modules)})",
                         prop, hint=hint)


# -- fine_tune ---------------------------------------------------------------------------------

def _fine_tune(submission, seed=0, **request):
    return submission.run("fine_tune_run", seed=seed, **request)


def _plain_adam_losses(model, X, y, *, lr, epochs):
    """A plain Adam loop over the parameters with requires_grad, one batch (all of X) per epoch; the loss of each epoch."""
    optimizer, losses = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=lr), []
    for _ in range(epochs):
        optimizer.zero_grad()
        loss = F.cross_entropy(model(X), y)
        loss.backward()
        optimizer.step()
        losses.append(loss.item())
    return losses


@pytest.mark.timeout(20)
@pytest.mark.points(1)
@pytest.mark.property("fine-tuning loop")
def test_fine_tune_matches_a_plain_adam_loop(submission):
    """One batch per epoch: losses and weights equal a plain Adam loop over the trainable parameters (cross-entropy, zero_grad),
    with two layers trainable and with all of them (training from scratch)."""
    prop, hint = "fine-tuning loop", "Adam over the trainable parameters with lr, F.cross_entropy, optimizer.zero_grad() before each backward"
    X, y = randn(12, 6, seed=3), torch.arange(12) % 3
    for trainable in (["backbone.fc2.weight", "backbone.fc2.bias", "head.weight", "head.bias"], [n for n, _ in TinyNet().named_parameters()]):
        model = fresh(TinyNet, 5).double()
        result = _fine_tune(submission, model=TINY, state_dict=state_of(model), dtype=F64, X=X, y=y, trainable=trainable,
                            train_kwargs=dict(epochs=3, lr=0.05, batch_size=32))
        set_trainable(model, trainable)
        losses = _plain_adam_losses(model, X, y, lr=0.05, epochs=3)
        where = f"with {len(trainable)} trainable parameters"
        if not (isinstance(result["losses"], (list, tuple)) and len(result["losses"]) == 3):
            fail(prop, f"fine_tune should return a list of 3 floats (one per epoch), got {result['losses']!r:.80}", hint)
        expect_close(torch.tensor(result["losses"], dtype=F64), torch.tensor(losses, dtype=F64), f"the losses per epoch {where}", prop, hint=hint)
        for name, value in model.state_dict().items():
            expect_close(result["state_dict"][name], value, f"`{name}` after fine-tuning {where}", prop, hint=hint)


@pytest.mark.timeout(20)
@pytest.mark.points(1)
@pytest.mark.property("mean loss per epoch")
def test_epoch_loss_is_the_mean_over_samples(submission):
    """With lr=0 and batches of 4, 4, 2, each epoch's loss is the mean cross-entropy over the 10 samples; with lr=0.05, each
    batch's loss (before its step) weighted by its size, as a replay of your batches gives."""
    prop, hint = "mean loss per epoch", "weight each batch's mean loss by its size and divide by the number of samples"
    model = fresh(TinyNet, 6).double()
    X, y = randn(10, 6, seed=4), torch.arange(10) % 3
    request = dict(model=TINY, state_dict=state_of(model), dtype=F64, X=X, y=y, trainable=["head.weight", "head.bias"])
    result = _fine_tune(submission, **request, train_kwargs=dict(epochs=2, lr=0.0, batch_size=4))
    with torch.no_grad():
        mean = F.cross_entropy(model(X), y).item()
    expect_close(torch.tensor(result["losses"], dtype=F64), torch.tensor([mean, mean], dtype=F64), "the losses per epoch", prop, hint=hint)
    result = _fine_tune(submission, **request, train_kwargs=dict(epochs=2, lr=0.05, batch_size=4), trajectory=0)
    expected = replay.replayed_epoch_losses(result, TINY, request["state_dict"], X, y, lr=0.05, epochs=2, dtype=F64,
                                            trainable=request["trainable"], prop=prop, hint=hint)
    if expected is not None:  # (a loop whose steps are wrong fails the test of its steps)
        expect_close(torch.tensor(result["losses"], dtype=F64), torch.tensor(expected, dtype=F64), "the losses per epoch with lr=0.05",
                     prop, hint=hint)


SHUFFLED = dict(model=TINY, dtype=F64, X=randn(30, 6, seed=6), y=torch.arange(30) % 3, trainable=["head.weight", "head.bias"])


@pytest.mark.timeout(20)
@pytest.mark.points(1)
@pytest.mark.property("determinism")
def test_same_seed_gives_the_same_run(submission):
    """Two runs with seed=3, whatever the global random state, give the same weights; a run with seed left out gives seed=0's."""
    prop, hint = "determinism", "draw the shuffling from a torch.Generator seeded with `seed` (not the global random state)"
    state = state_of(fresh(TinyNet, 7).double())
    kwargs = dict(state_dict=state, train_kwargs=dict(epochs=2, lr=0.05, batch_size=7, seed=3), **SHUFFLED)
    first = _fine_tune(submission, seed=1, **kwargs)
    restart(submission)  # your module imported anew: nothing the first run kept in it reaches the second
    second = _fine_tune(submission, seed=2, **kwargs)
    for name, value in first["state_dict"].items():
        expect_close(second["state_dict"][name], value, f"`{name}` after a second run with the same seed", prop, hint=hint)
    restart(submission)  # each in a fresh worker: only the default tells the two apart
    zero = _fine_tune(submission, seed=1, **dict(kwargs, train_kwargs={**kwargs["train_kwargs"], "seed": 0}))
    restart(submission)
    default = _fine_tune(submission, seed=2, **dict(kwargs, train_kwargs={k: v for k, v in kwargs["train_kwargs"].items() if k != "seed"}))
    for name, value in zero["state_dict"].items():
        expect_close(default["state_dict"][name], value, f"`{name}` after a run with seed left out, compared with seed=0 (the default)", prop,
                     hint="keep the signature's default, seed=0, so that a call without a seed is reproducible too")


@pytest.mark.timeout(20)
@pytest.mark.points(1)
@pytest.mark.property("seed")
def test_another_seed_gives_another_run(submission):
    """seed=3 and seed=4 shuffle differently: the weights after training differ."""
    prop, hint = "seed", "seed the shuffling's generator with the `seed` argument"
    state = state_of(fresh(TinyNet, 7).double())
    runs = []
    for s in (3, 4):
        restart(submission)  # your module imported anew: nothing the first run kept in it tells the second apart
        runs.append(_fine_tune(submission, seed=s, state_dict=state, train_kwargs=dict(epochs=2, lr=0.05, batch_size=7, seed=s), **SHUFFLED))
    if torch.equal(runs[0]["state_dict"]["head.weight"], runs[1]["state_dict"]["head.weight"]):
        fail(prop, "seed=3 and seed=4 gave the same weights", hint)


@pytest.mark.timeout(20)
@pytest.mark.points(1)
@pytest.mark.property("no trainable parameter")
def test_fine_tune_with_everything_frozen_raises_value_error(submission):
    """fine_tune on a model whose parameters are all frozen raises ValueError; with only backbone.fc trainable it does not, and
    leaves the frozen head as it was."""
    hint = "check the list of trainable parameters of the whole model before creating the optimiser"
    result = submission.run("fine_tune_run", allow_error=True, model=Build(SMALLNET, 2), state_dict=None, trainable=[],
                            X=images(4), y=torch.tensor([0, 1, 0, 1]), train_kwargs=dict(epochs=1, lr=1e-2))
    if not isinstance(result, Raised) or not result.is_a("ValueError"):
        fail("no trainable parameter", "fine_tune should raise ValueError when no parameter is trainable", hint)
    before = state_of(fresh(SmallNet, 3, num_classes=2))
    result = submission.run("fine_tune_run", allow_error=True, model=Build(SMALLNET, 2), state_dict=before, trainable=named("backbone.fc"),
                            X=images(4), y=torch.tensor([0, 1, 0, 1]), train_kwargs=dict(epochs=1, lr=1e-2))
    if isinstance(result, Raised):
        fail("no trainable parameter", f"fine_tune with only backbone.fc trainable (the head frozen) raised {result.types[0]}", hint)
    if not torch.equal(result["state_dict"]["head.weight"], before["head.weight"]):
        fail("no trainable parameter", "fine_tune with only backbone.fc trainable changed the frozen head: never unfreeze a parameter",
             "train exactly the parameters with requires_grad, as the caller left them")


@pytest.mark.timeout(20)
@pytest.mark.points(1)
@pytest.mark.property("batch size")
def test_batch_size_sets_the_batches(submission):
    """13 copies of one image, batch_size=5, 2 epochs: a trainable BatchNorm sees batches of 5, 5, 3 twice (its running statistics show it)."""
    prop, hint = "batch size", "take the samples batch_size at a time, the last batch getting the rest"
    state = pretrained_with_new_head()
    X = target_task(2, 0)[0][:1].to(F64).expand(13, 1, 8, 8).clone()
    result = _fine_tune(submission, model=Build(SMALLNET, 2), state_dict=state, dtype=F64, X=X, y=torch.arange(13) % 2,
                        trainable=named("backbone.bn1"), train_kwargs=dict(epochs=2, lr=1e-2, batch_size=5))
    oracle = SmallNet(2).double()
    oracle.load_state_dict(state)
    with torch.no_grad():
        for size in (5, 5, 3) * 2:
            oracle.train()(X[:size])  # every row is the same image: only the batch sizes matter
    for buffer in ("running_mean", "running_var", "num_batches_tracked"):
        name = f"backbone.bn1.{buffer}"
        expect_close(result["state_dict"][name], oracle.state_dict()[name], f"`{name}` after batches of 5, 5, 3 (twice)", prop, hint=hint)


def _frozen_run(submission):
    """Fine-tune backbone.conv2 and the head of the pretrained model; every frozen parameter
    carries a stale .grad of 0.25 (as an earlier backward pass would leave)."""
    X, y, _, _ = target_task(2, 0)
    before = pretrained_with_new_head()
    trainable = named("backbone.conv2", "head")
    stale = {n: torch.full_like(before[n], 0.25) for n in PARAMETERS if n not in trainable}
    result = _fine_tune(submission, model=Build(SMALLNET, 2), state_dict=before, trainable=trainable, X=X, y=y, grads_before=stale,
                        train_kwargs=dict(epochs=3, lr=1e-2, batch_size=8, seed=0))
    return before, trainable, stale, result


@pytest.mark.timeout(20)
@pytest.mark.points(1)
@pytest.mark.property("frozen parameters")
def test_fine_tuning_leaves_frozen_parameters_untouched(submission):
    """With only backbone.conv2 and the head trainable, every other parameter is bitwise unchanged (even with a stale .grad); the head trains."""
    prop, hint = "frozen parameters", "give the optimiser only the parameters with requires_grad (a frozen one may still hold an old .grad)"
    before, trainable, _, result = _frozen_run(submission)
    for name in PARAMETERS:
        changed = not torch.equal(result["state_dict"][name], before[name])
        if changed and name not in trainable:
            fail(prop, f"frozen parameter `{name}` changed during fine-tuning", hint)
    if torch.equal(result["state_dict"]["head.weight"], before["head.weight"]):
        fail(prop, "the trainable head did not change during fine-tuning", hint)


@pytest.mark.timeout(20)
@pytest.mark.points(1)
@pytest.mark.property("frozen buffers")
def test_fine_tuning_leaves_frozen_batchnorm_statistics_untouched(submission):
    """The frozen BatchNorm layers keep their running statistics bitwise: they stay in eval mode while the rest trains — SmallNet's
    BatchNorm2d, a BatchNorm1d, and a BatchNorm1d without parameters (affine=False: nothing to train, so always "frozen") — and
    the steps show they normalised by those statistics, not by each batch's; and wherever they sit: a BatchNorm1d two levels
    down and one outside the backbone."""
    prop, hint = "frozen buffers", ("after model.train(), put every normalisation layer (any BatchNorm) anywhere in the model "
                                    "(model.modules()) whose parameters are all frozen, or that has none, back into eval mode")
    before, _, _, result = _frozen_run(submission)
    for name, value in before.items():
        if name.startswith(("backbone.bn1.running", "backbone.bn2.running")) and not torch.equal(result["state_dict"][name], value):
            fail(prop, f"`{name}` of a frozen BatchNorm changed during fine-tuning", hint)
    state = state_of(fresh(NormNet, 1).double())
    state.update({"backbone.bn.running_mean": torch.full((6,), 0.5, dtype=F64), "backbone.plain.running_var": torch.full((8,), 2.0, dtype=F64)})
    trainable, X, y = ["backbone.fc.weight", "backbone.fc.bias", "head.weight", "head.bias"], randn(16, 6, seed=4), torch.arange(16) % 3
    result = _fine_tune(submission, model=NORMNET, state_dict=state, dtype=F64, X=X, y=y, trainable=trainable,
                        train_kwargs=dict(epochs=1, lr=1e-2, batch_size=8), trajectory=2)
    norms = {"backbone.bn": "a frozen BatchNorm1d", "backbone.plain": "a BatchNorm1d without parameters"}
    for layer, kind in norms.items():
        for buffer in ("running_mean", "running_var"):
            if not torch.equal(result["state_dict"][f"{layer}.{buffer}"], state[f"{layer}.{buffer}"]):
                fail(prop, f"`{layer}.{buffer}` of {kind} changed during fine-tuning", hint)
    # statistics put back afterwards are not enough: the steps show the batch statistics a layer in training mode used
    _frozen_norms_in_eval(result, NORMNET, state, norms, X, y, trainable, prop, hint)
    state = state_of(fresh(NestedNormNet, 2).double())
    state.update({"backbone.block.bn.running_mean": torch.full((6,), 0.5, dtype=F64), "norm.running_var": torch.full((6,), 2.0, dtype=F64)})
    result = _fine_tune(submission, model=NESTED_NORMNET, state_dict=state, dtype=F64, X=X, y=y, trainable=trainable,
                        train_kwargs=dict(epochs=1, lr=1e-2, batch_size=8), trajectory=2)
    norms = {"backbone.block.bn": "a frozen BatchNorm1d two levels down", "norm": "a frozen BatchNorm1d outside the backbone"}
    for layer, kind in norms.items():
        for buffer in ("running_mean", "running_var"):
            if not torch.equal(result["state_dict"][f"{layer}.{buffer}"], state[f"{layer}.{buffer}"]):
                fail(prop, f"`{layer}.{buffer}` of {kind} changed during fine-tuning", hint)
    _frozen_norms_in_eval(result, NESTED_NORMNET, state, norms, X, y, trainable, prop, hint)


def _frozen_norms_in_eval(result, model, start, norms, X, y, trainable, prop, hint):
    """The run's two steps (lr = 0.01), replayed here in each mode of the normalisation layers, show them in eval mode."""
    training = replay.norms_in_training_mode(result, model=model, start=start, norms=list(norms), X=X, y=y, lr=1e-2, epochs=1,
                                             most_steps=2, trainable=trainable, dtype=F64)
    if training:
        fail(prop, f"the fine-tuning steps used batch statistics: {' and '.join(norms[layer] for layer in training)} ran in training "
             "mode", hint)


@pytest.mark.timeout(20)
@pytest.mark.points(1)
@pytest.mark.property("trainable parameters only")
def test_frozen_parameters_receive_no_gradient(submission):
    """Afterwards each frozen parameter holds its stale .grad, none, or zeros — never a gradient of its own."""
    prop, hint = "trainable parameters only", "never re-enable requires_grad for frozen parameters inside fine_tune"
    _, _, stale, result = _frozen_run(submission)
    for name, mark in stale.items():
        grad = result["grads"][name]
        if grad is not None and not (torch.equal(grad, mark) or not bool(grad.any())):
            fail(prop, f"frozen parameter `{name}` received a gradient during fine-tuning", hint)


@pytest.mark.timeout(20)
@pytest.mark.points(1)
@pytest.mark.property("training mode")
def test_fine_tuning_trains_in_training_mode(submission):
    """A model handed over in eval mode (as load_pretrained returns it) trains in training mode: a BatchNorm with a trainable
    parameter (both, or only its bias) updates its statistics; and every other module but a frozen normalisation layer trains in
    training mode, frozen or not (ModeNet: each module adds a mark in training mode; one batch per epoch, against a plain loop)."""
    prop, hint = "training mode", "call model.train() before the loop; only normalisation layers whose parameters are all frozen go back to eval mode"
    X, y, _, _ = target_task(2, 1)
    before = pretrained_with_new_head()
    for trainable in ("backbone.bn1", "backbone.bn1.bias"):
        result = _fine_tune(submission, model=Build(SMALLNET, 2), state_dict=before, trainable=named(trainable, "head"), X=X, y=y,
                            mode="eval", train_kwargs=dict(epochs=1, lr=1e-2, batch_size=20))
        if torch.equal(result["state_dict"]["backbone.bn1.running_mean"], before["backbone.bn1.running_mean"]):
            fail(prop, f"the running statistics of backbone.bn1 did not change with {trainable} trainable: it did not train in training mode",
                 hint)
    model, X, y = fresh(ModeNet, 6).double(), randn(12, 6, seed=7), torch.arange(12) % 3
    before, trainable = state_of(model), [name for name, _ in model.named_parameters() if name.startswith(("backbone.fc2", "head"))]
    result = _fine_tune(submission, model=MODENET, state_dict=before, dtype=F64, trainable=trainable, X=X, y=y, mode="eval",
                        train_kwargs=dict(epochs=3, lr=1e-2, batch_size=12))
    set_trainable(model, trainable)
    model.train()
    model.backbone.bn.eval()  # frozen: the only module in eval mode
    expected = _plain_adam_losses(model, X, y, lr=1e-2, epochs=3)
    expect_close(torch.tensor(result["losses"], dtype=F64), torch.tensor(expected, dtype=F64),
                 "the losses of fine-tuning ModeNet (handed over in eval mode, backbone.fc2 and head trainable, one batch per epoch): "
                 "its frozen BatchNorm in eval mode, its frozen fc1 and every other module in training mode", prop, hint=hint)


@pytest.mark.trains
@pytest.mark.timeout(60)
@pytest.mark.points(1)
@pytest.mark.property("transfer helps")
def test_transfer_beats_training_from_scratch_on_one_seed(submission):
    """Odd or even from 20 labels (seed 0): the pretrained backbone + new head reaches 93% and beats the network trained from scratch."""
    prop = "transfer helps"
    hint = "both runs use your fine_tune; the frozen backbone must stay exactly as it was while the new head trains"
    X, y, X_test, y_test = target_task(2, 0)
    budget = dict(epochs=20, lr=1e-2, batch_size=10, seed=0)
    accuracy = {}
    runs = (("pretrained", pretrained_with_new_head(), named("head")), ("from scratch", state_of(fresh(SmallNet, 0, num_classes=2)), PARAMETERS))
    for name, state, trainable in runs:
        result = _fine_tune(submission, model=Build(SMALLNET, 2), state_dict=state, trainable=trainable, X=X, y=y, train_kwargs=budget)
        model = SmallNet(2)
        model.load_state_dict(result["state_dict"])
        with torch.no_grad():
            accuracy[name] = float((model.eval()(X_test).argmax(1) == y_test).double().mean())
    print(f"held-out accuracy: pretrained {accuracy['pretrained']:.3f}, from scratch {accuracy['from scratch']:.3f}")
    if accuracy["pretrained"] < 0.93 or accuracy["pretrained"] <= accuracy["from scratch"]:
        fail(prop, f"pretrained {accuracy['pretrained']:.2f} vs from scratch {accuracy['from scratch']:.2f} "
                   "(the pretrained model should reach 0.93 and beat the other)", hint)
