"""Public tests of the transfer assignment — run them with `nnzoo test transfer`.

They check the obvious: which parameters `freeze` leaves trainable, the shape of the new
head, the features against the provided backbone, that fine-tuning the head leaves the
frozen backbone (and its BatchNorm statistics) untouched, and one run of the transfer
experiment.  The hidden tests check every property more thoroughly (prefix rules,
dtype and device, training modes, gradients, the optimiser, determinism, ten seeds).
"""

import pytest
import torch

from autograder import checks
from autograder.data.digits import target_task
from autograder.data.transfer import SmallNet, pretrained_state_dict
from autograder.worker.probes import Build
from autograder.judge.subject import Raised

SMALLNET = "autograder.data.transfer:SmallNet"


def images(n, seed=0):
    return torch.rand(n, 1, 8, 8, generator=torch.Generator().manual_seed(seed))


def pretrained_with_new_head(seed=0):
    state = dict(pretrained_state_dict())
    torch.manual_seed(seed)
    state.update({f"head.{k}": v for k, v in torch.nn.Linear(64, 2).state_dict().items()})
    return state


@pytest.mark.points(1)
@pytest.mark.property("freeze by prefix")
def test_freeze_leaves_only_the_prefixes_trainable(submission):
    """freeze(model, "head") and freeze(model, ("backbone.fc", "head")) leave exactly those parameters trainable."""
    for trainable in ("head", ("backbone.fc", "head")):
        flags = submission.run("freeze_flags", model=Build(SMALLNET), trainable=trainable)["requires_grad"]
        prefixes = (trainable,) if isinstance(trainable, str) else trainable
        expected = {name: name.startswith(prefixes) for name, _ in SmallNet().named_parameters()}
        if flags != expected:
            checks.base.fail("freeze by prefix", f"freeze(model, {trainable!r}) set the wrong requires_grad flags",
                             "requires_grad = name.startswith(prefixes) for every parameter")


@pytest.mark.points(1)
@pytest.mark.property("new head shape")
def test_replace_head_gives_a_linear_with_the_old_in_features(submission):
    """replace_head(SmallNet(10), 2) gives model.head = Linear(64, 2) with a bias; the model outputs (B, 2)."""
    prop, hint = "new head shape", "nn.Linear(model.head.in_features, num_classes), assigned to model.head; return the model"
    facts = submission.run("replace_head_facts", model=Build(SMALLNET, 10), num_classes=2, x=images(3))
    head = facts["head"]
    if not facts["same_model"] or head is None:
        checks.base.fail(prop, "replace_head should return the model it changed", hint)
    if head["weight_shape"] != [2, 64] or head["bias_shape"] != [2]:
        checks.base.fail(prop, f"the new head has weight {head['weight_shape']} and bias {head['bias_shape']}, expected [2, 64] and [2]", hint)
    if facts["output_shape"] != [3, 2]:
        checks.base.fail(prop, f"the model's output for 3 images is {facts['output_shape']}, expected [3, 2]", hint)


@pytest.mark.points(1)
@pytest.mark.property("features")
def test_extract_features_equal_the_pretrained_backbone_in_eval_mode(submission):
    """extract_features(model, X) equals the provided backbone's output in eval mode, (N, 64), without grad."""
    prop, hint = "features", "model.eval(), then model.backbone(X) under torch.no_grad(); restore the training modes afterwards"
    X = images(6)
    facts = submission.run("extract_features_run", model=Build(SMALLNET, 10), state_dict=dict(pretrained_state_dict()), X=X)
    oracle = SmallNet(10)
    oracle.load_state_dict(pretrained_state_dict())
    with torch.no_grad():
        expected = oracle.eval().backbone(X)
    checks.expect_close(facts["output"], expected, "the features", prop, hint=hint)
    if facts["requires_grad"]:
        checks.base.fail(prop, "the features require grad", hint)
    if facts["after"] != facts["before"]:
        checks.base.fail(prop, "the model's training modes changed", hint)


@pytest.mark.points(1)
@pytest.mark.property("frozen parameters")
def test_fine_tuning_the_head_leaves_the_backbone_untouched(submission):
    """After freeze(model, "head"), fine_tune returns one loss per epoch, changes the head and nothing else — BatchNorm statistics included."""
    prop = "frozen parameters"
    hint = "Adam over the trainable parameters only; keep BatchNorm layers whose parameters are frozen in eval mode"
    X, y, _, _ = target_task(2, 0)
    before = pretrained_with_new_head()
    result = submission.run("fine_tune_run", model=Build(SMALLNET, 2), state_dict=before, trainable=["head.weight", "head.bias"], X=X, y=y,
                            train_kwargs=dict(epochs=3, lr=1e-2, batch_size=8, seed=0))
    losses = result["losses"]
    if not isinstance(losses, list) or len(losses) != 3 or not all(isinstance(v, float) for v in losses):
        checks.base.fail(prop, "fine_tune should return a list of 3 floats (one mean loss per epoch)", hint)
    for name, value in before.items():
        changed = not torch.equal(result["state_dict"][name], value)
        if name.startswith("head") != changed:
            checks.base.fail(prop, f"`{name}` {'changed' if changed else 'did not change'} during fine-tuning", hint)


@pytest.mark.points(1)
@pytest.mark.property("no trainable parameter")
def test_fine_tune_with_everything_frozen_raises_value_error(submission):
    """fine_tune on a model whose parameters are all frozen raises ValueError."""
    result = submission.run("fine_tune_run", allow_error=True, model=Build(SMALLNET, 2), state_dict=None, trainable=[],
                            X=images(4), y=torch.tensor([0, 1, 0, 1]), train_kwargs=dict(epochs=1, lr=1e-2))
    if not isinstance(result, Raised) or not result.is_a("ValueError"):
        checks.base.fail("no trainable parameter", "fine_tune should raise ValueError when no parameter is trainable",
                         "check the list of trainable parameters before creating the optimiser")


@pytest.mark.points(1)
@pytest.mark.property("transfer helps")
def test_transfer_beats_training_from_scratch_on_one_seed(submission):
    """Odd or even from 20 labels (seed 0): the pretrained backbone + new head reaches 93% and beats the network trained from scratch."""
    prop = "transfer helps"
    hint = "both runs use your fine_tune; the frozen backbone must stay exactly as it was while the new head trains"
    X, y, X_test, y_test = target_task(2, 0)
    budget = dict(epochs=20, lr=1e-2, batch_size=10, seed=0)
    torch.manual_seed(0)
    scratch = dict(SmallNet(2).state_dict())
    accuracy = {}
    every_parameter = [name for name, _ in SmallNet(2).named_parameters()]
    runs = (("pretrained", pretrained_with_new_head(), ["head.weight", "head.bias"]), ("from scratch", scratch, every_parameter))
    for name, state, trainable in runs:
        result = submission.run("fine_tune_run", model=Build(SMALLNET, 2), state_dict=state, trainable=trainable, X=X, y=y,
                                X_eval=X_test, train_kwargs=budget)
        accuracy[name] = float((result["logits"].argmax(1) == y_test).double().mean())
    print(f"held-out accuracy: pretrained {accuracy['pretrained']:.3f}, from scratch {accuracy['from scratch']:.3f}")
    if accuracy["pretrained"] < 0.93 or accuracy["pretrained"] <= accuracy["from scratch"]:
        checks.base.fail(prop, f"pretrained {accuracy['pretrained']:.2f} vs from scratch {accuracy['from scratch']:.2f} "
                               "(the pretrained model should reach 0.93 and beat the other)", hint)
