"""Hidden tests of the rnn assignment (instructor-only).

Every test grades one property through the check library.  Tests of `RNN` swap in
PyTorch's own cells behind the assignment's signatures (`patch=TRUSTED_CELLS`), and tests
of `hidden_state_gradient_norms` and `SequenceClassifier` a trusted `RNN` as well
(`patch=TRUSTED_RNN`), so a bug costs the points of the piece it is in.  The accuracy
test trains the student's `SequenceClassifier` and `RNN` (with trusted cells) with the
grader's own loop.
"""

import pytest
import torch

from autograder import checks
from autograder.checks.symmetry import causal
from autograder.data.recall import recall_symbol
from autograder.worker.probes import Build
from autograder.worker.probes.rnn import TRUSTED_CELLS, TRUSTED_RNN

#: Ways around the task whatever the piece: PyTorch's private kernels and its rnn module.
BACKDOORS = ("torch._VF", "torch.nn.modules.rnn")
#: The multi-step built-ins: forbidden wherever the student's `RNN` runs.
SEQUENCE = ("torch.nn.RNN", "torch.nn.LSTM", "torch.nn.GRU", "torch.nn.RNNBase", *BACKDOORS)
CELL_BUILTINS = {
    "RNNCell": ("torch.nn.RNNCell", "torch.rnn_tanh_cell", "torch.rnn_relu_cell"),
    "LSTMCell": ("torch.nn.LSTMCell", "torch.lstm_cell"),
    "GRUCell": ("torch.nn.GRUCell", "torch.gru_cell"),
}
FORBID_CELL = {name: (*names, "torch.nn.RNNCellBase", *SEQUENCE) for name, names in CELL_BUILTINS.items()}
FORBID_CELLS = tuple(sorted({n for names in FORBID_CELL.values() for n in names}))
UNROLLED = "autograder.worker.probes.rnn:UnrolledCell"
CELL_OF = {"rnn": "RNNCell", "lstm": "LSTMCell", "gru": "GRUCell"}
H = 6


def randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def state_for(cell_name, batch=3, seed=9):
    h = randn(batch, H, seed=seed)
    return (h, randn(batch, H, seed=seed + 1)) if cell_name == "LSTMCell" else h


# -- cells -------------------------------------------------------------------------------

@pytest.mark.points(1)
@pytest.mark.property("parameter layout")
@pytest.mark.forbid(*FORBID_CELLS)
def test_cells_have_pytorch_parameter_layout(submission):
    """RNNCell, LSTMCell and GRUCell have nn.*Cell's parameter names and shapes (also without bias)."""
    for name in CELL_BUILTINS:
        for bias in (True, False):
            builtin = getattr(torch.nn, name)(4, H, bias=bias)
            expected = {n: list(p.shape) for n, p in builtin.named_parameters()}
            checks.parameters_like(submission, Build(name, 4, H, bias=bias), expected, prop="parameter layout",
                                   hint="weight_ih (gates·H, I), weight_hh (gates·H, H), bias_ih, bias_hh (gates·H,) — "
                                        "gates = 1, 4, 3; with bias=False register no biases")


def _cell_matches(reference, submission, name, prop, hint, **kwargs):
    """Outputs and gradients (input, parameters) equal the reference's in float64 and float32
    for a state of None, a given state and a batch of one; then without biases; then with
    the cell run for 3 steps by trusted code, so that gradients through the state count too."""
    inputs = [(randn(3, 4),), (randn(3, 4, seed=1), state_for(name)), (randn(1, 4, seed=2), state_for(name, batch=1))]
    checks.matches_reference(submission, reference, model=Build(name, 4, H, **kwargs), inputs=inputs, prop=prop, hint=hint)
    checks.matches_reference(submission, reference, model=Build(name, 4, H, bias=False, **kwargs), inputs=inputs[1:2],
                             dtypes=(torch.float64,), prop=prop, hint=hint + "; with bias=False, no bias terms")
    checks.matches_reference(submission, reference, model=Build(UNROLLED, Build(name, 4, H, **kwargs)), inputs=[(randn(3, 3, 4, seed=3),)],
                             dtypes=(torch.float64,), prop=prop,
                             hint=hint + " (here the grader applies your cell for 3 steps: the gradient must also flow through the state)")


@pytest.mark.points(2)
@pytest.mark.property("equality with nn.RNNCell")
@pytest.mark.forbid(*FORBID_CELL["RNNCell"])
def test_rnn_cell_matches_reference(reference, submission):
    """Outputs and gradients equal nn.RNNCell's for tanh and relu, with h=None (zeros) and a given h."""
    for nonlinearity in ("tanh", "relu"):
        _cell_matches(reference, submission, "RNNCell", "equality with nn.RNNCell",
                      f"h' = {nonlinearity}(x W_ih^T + b_ih + h W_hh^T + b_hh); h=None means zeros", nonlinearity=nonlinearity)


@pytest.mark.points(2)
@pytest.mark.property("equality with nn.LSTMCell")
@pytest.mark.forbid(*FORBID_CELL["LSTMCell"])
def test_lstm_cell_matches_reference(reference, submission):
    """(h', c') and gradients equal nn.LSTMCell's, with state=None (zeros) and a given (h, c)."""
    _cell_matches(reference, submission, "LSTMCell", "equality with nn.LSTMCell",
                  "gates in the order i, f, g, o; c' = f*c + i*g; h' = o*tanh(c'); state=None means zeros")


@pytest.mark.points(2)
@pytest.mark.property("equality with nn.GRUCell")
@pytest.mark.forbid(*FORBID_CELL["GRUCell"])
def test_gru_cell_matches_reference(reference, submission):
    """h' and gradients equal nn.GRUCell's, with h=None (zeros) and a given h."""
    _cell_matches(reference, submission, "GRUCell", "equality with nn.GRUCell",
                  "gates r, z, n; n = tanh(W_in x + b_in + r * (W_hn h + b_hn)); h' = (1 - z) * n + z * h")


# -- RNN through time --------------------------------------------------------------------

@pytest.mark.points(2)
@pytest.mark.property("unrolling through time")
@pytest.mark.forbid(*SEQUENCE)
def test_rnn_matches_reference(reference, submission):
    """(outputs, last_state) and gradients equal the reference's for every cell, T = 1 and 5, with and without a state."""
    for cell, name in CELL_OF.items():
        checks.matches_reference(submission, reference, model=Build("RNN", 4, H, cell=cell), patch=TRUSTED_CELLS,
                                 inputs=[(randn(3, 1, 4),), (randn(3, 5, 4, seed=1),), (randn(3, 5, 4, seed=2), state_for(name))],
                                 prop="unrolling through time",
                                 hint="feed each step's state into the next; outputs[:, t] is h after step t (in time order); "
                                      "last_state is the cell's final state")


@pytest.mark.points(1)
@pytest.mark.property("weight sharing through time")
@pytest.mark.forbid(*SEQUENCE)
def test_rnn_has_one_cell_for_every_length(submission):
    """The only parameters are the one cell's, before and after sequences of any length T ≥ 1."""
    prop, hint = "weight sharing through time", "keep a single cell in `self.cell` and apply it at every step; create no modules in forward"
    for cell in CELL_OF:
        builtin = getattr(torch.nn, CELL_OF[cell])(4, H)
        expected = {f"cell.{n}": list(p.shape) for n, p in builtin.named_parameters()}
        checks.parameters_like(submission, Build("RNN", 4, H, cell=cell), expected, patch=TRUSTED_CELLS, prop=prop, hint=hint)
        for T in (1, 2, 9):
            result = submission.run("run", model=Build("RNN", 4, H, cell=cell), patch=TRUSTED_CELLS, args=(randn(2, T, 4).float(),))
            out = result["output"]
            if not isinstance(out, (tuple, list)) or len(out) != 2:
                checks.base.fail(prop, "RNN.forward should return (outputs, last_state)", hint)
            checks.expect_tensor(out[0], f"outputs for T = {T}", prop, shape=(2, T, H), hint=hint)
            if result["param_shapes"] != expected:
                checks.base.fail(prop, f"({cell}) the parameters changed after a sequence of length {T}", hint)


@pytest.mark.points(1)
@pytest.mark.property("weight sharing through time")
@pytest.mark.forbid(*SEQUENCE)
def test_shared_weight_gradient_is_the_sum_over_steps(reference, submission):
    """The cell runs once per step, and each shared weight's gradient is the sum of the steps' contributions.

    The trusted cell gives every call its own copy of the weights: the gradient of step t's
    copy is step t's contribution, and their sum must be the gradient of the shared weight.
    """
    prop, hint = "weight sharing through time", "apply the one cell `self.cell` once per step, so autograd sums the steps' contributions"
    T = 6
    x, cot = randn(3, T, 4, seed=4), randn(3, T, H, seed=5)
    for cell in CELL_OF:
        model = Build("RNN", 4, H, cell=cell)
        sd = checks.reference_state_dict(reference, model, torch.float64, patch=TRUSTED_CELLS)
        result = submission.run("step_contributions", model=model, state_dict=sd, x=x, cotangent=cot, patch=TRUSTED_CELLS)
        if result["calls"] != T:
            checks.base.fail(prop, f"({cell}) `self.cell` ran {result['calls']} times for a sequence of {T} steps", hint)
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            steps = [checks.expect_tensor(c.get(name), f"step {t}'s gradient of `cell.{name}`", prop, hint=hint)
                     for t, c in enumerate(result["per_call"])]
            checks.expect_close(result["shared"].get(name), torch.stack(steps).sum(0),
                                f"({cell}) the gradient of `cell.{name}` against the sum over steps", prop, hint=hint)


@pytest.mark.points(1)
@pytest.mark.property("causality")
@pytest.mark.forbid(*SEQUENCE)
def test_rnn_is_causal(reference, submission):
    """Output t neither changes nor has a gradient when inputs after t change."""
    for cell in ("rnn", "lstm"):
        model = Build("RNN", 4, H, cell=cell)
        sd = checks.reference_state_dict(reference, model, torch.float64, patch=TRUSTED_CELLS)
        causal(submission, model=model, state_dict=sd, args=(randn(2, 6, 4),), patch=TRUSTED_CELLS, positions=(0, 3),
               prop="causality", hint="step t may only use inputs 0..t — read x[:, t], never later steps, and keep outputs in time order")


@pytest.mark.points(1)
@pytest.mark.property("gradient flow through time")
@pytest.mark.forbid(*SEQUENCE)
def test_gradients_reach_the_first_input(reference, submission):
    """The last output has a non-zero gradient with respect to the first input (no detach in the loop)."""
    prop, hint = "gradient flow through time", "do not detach (or re-create) the state between steps: gradients must flow back through it"
    for cell in CELL_OF:
        model = Build("RNN", 4, H, cell=cell)
        sd = checks.reference_state_dict(reference, model, torch.float64, patch=TRUSTED_CELLS)
        cot = torch.zeros(2, 5, H, dtype=torch.float64)
        cot[:, -1] = 1.0
        result = submission.run("run", model=model, state_dict=sd, dtype=torch.float64, patch=TRUSTED_CELLS,
                                args=(randn(2, 5, 4),), grad_args=(0,), cotangent=cot)
        grad = result["input_grads"][0]
        if grad is None:
            checks.base.fail(prop, f"({cell}) the outputs have no gradient w.r.t. the input", hint)
        grad = checks.expect_tensor(grad, "the gradient w.r.t. the input", prop, shape=(2, 5, 4), hint=hint)
        if float(grad[:, 0].abs().max()) == 0.0:
            checks.base.fail(prop, f"({cell}) the last output has no gradient w.r.t. the first input", hint)


# -- the vanishing-gradient experiment ------------------------------------------------------

def autograd_norms(sd: dict, cell: str, x: torch.Tensor) -> torch.Tensor:
    """The expected norms, straight from autograd: PyTorch's cell unrolled, dL/dh_t for L = h_last.sum()."""
    hidden_size = sd["cell.weight_hh"].shape[1]
    builtin = getattr(torch.nn, CELL_OF[cell])(x.shape[2], hidden_size).to(x.dtype)
    builtin.load_state_dict({n.removeprefix("cell."): v for n, v in sd.items()})
    state, hidden = None, []
    for t in range(x.shape[1]):
        state = builtin(x[:, t], state)
        hidden.append(state[0] if isinstance(state, tuple) else state)
    grads = torch.autograd.grad(hidden[-1].sum(), hidden)
    return torch.stack([g.norm() for g in grads]).detach()


@pytest.mark.points(2)
@pytest.mark.property("gradient norms")
def test_gradient_norms_match_autograd(reference, submission):
    """Entry t is ||dL/dh_t|| (the total derivative) for T = 1 and 7, detached, in x's dtype, .grad untouched."""
    prop = "gradient norms"
    hint = "collect every h_t, then torch.autograd.grad(h_last.sum(), [h_0, ..., h_last]) — it leaves .grad alone"
    for cell in CELL_OF:
        model = Build("RNN", 3, H, cell=cell)
        for dtype in (torch.float64, torch.float32):
            sd = checks.reference_state_dict(reference, model, dtype, patch=TRUSTED_RNN)
            for T in (1, 7):
                x = randn(4, T, 3, seed=T).to(dtype)
                actual = submission.run("gradient_norms_experiment", model=model, state_dict=sd, x=x, patch=TRUSTED_RNN)
                checks.expect_close(actual["norms"], autograd_norms(sd, cell, x), f"the norms ({cell}, T = {T}, {dtype})", prop, hint=hint)
                if not actual["detached"]:
                    checks.base.fail(prop, "the returned norms still require grad: return a detached tensor", hint)
                if not actual["grads_kept"]:
                    checks.base.fail(prop, "a parameter's .grad changed: use torch.autograd.grad, not backward()", hint)


@pytest.mark.points(1)
@pytest.mark.property("vanishing gradients")
def test_tanh_gradients_vanish_and_lstm_gradients_do_not(reference, submission):
    """Over T = 50, the tanh RNN's norms fall by more than 8 orders of magnitude; an LSTM's (forget bias 5) by fewer than 4."""
    # Over 50 seeds of weights and inputs, PyTorch's cells give ratios below 1e-10 (tanh RNN)
    # and above 4e-3 (LSTM); tests/test_rnn_oracles.py checks 10 of them.
    prop, hint = "vanishing gradients", "entry t is the norm of dL/dh_t, in time order (entry 0 is the first step)"
    x = randn(8, 50, 3, seed=11)
    for cell, holds, claim in (("rnn", lambda r: r < 1e-8, "should be below 1e-8"), ("lstm", lambda r: r > 1e-4, "should stay above 1e-4")):
        model = Build("RNN", 3, 16, cell=cell)
        sd = checks.reference_state_dict(reference, model, torch.float64, seed=3, patch=TRUSTED_RNN)
        if cell == "lstm":
            sd["cell.bias_ih"][16:32] = 5.0  # the forget gate: keep the memory
            sd["cell.bias_hh"][16:32] = 0.0
        result = submission.run("gradient_norms_experiment", model=model, state_dict=sd, x=x, patch=TRUSTED_RNN)
        norms = checks.expect_tensor(result["norms"], "the norms", prop, shape=(50,), dtype=torch.float64, hint=hint)
        ratio = float(norms[0] / norms[-1]) if float(norms[-1]) > 0 else float("nan")
        if not holds(ratio):
            checks.base.fail(prop, f"({cell}) the first step's gradient norm is {ratio:.1e} times the last one's, which {claim}", hint)


# -- sequence classifier ---------------------------------------------------------------------

@pytest.mark.points(1)
@pytest.mark.property("sequence classifier")
@pytest.mark.forbid(*SEQUENCE)
def test_sequence_classifier_matches_reference(reference, submission):
    """`rnn` and `readout` as specified; logits from the last hidden state equal the reference's."""
    for cell in ("lstm", "gru"):
        checks.matches_reference(submission, reference, model=Build("SequenceClassifier", 4, H, 3, cell=cell), patch=TRUSTED_RNN,
                                 inputs=[(randn(2, 5, 4),), (randn(3, 1, 4, seed=1),)], prop="sequence classifier",
                                 hint="readout(outputs[:, -1]) — the hidden state after the LAST step")


@pytest.mark.points(3)
@pytest.mark.property("accuracy on a memory task")
@pytest.mark.forbid(*SEQUENCE)
def test_sequence_classifier_recalls_an_early_symbol(reference, submission):
    """Trained by the grader, a GRU SequenceClassifier recalls the 2nd of 10 symbols (held-out accuracy ≥ 0.90)."""
    prop = "accuracy on a memory task"
    hint = "the state must carry the 2nd symbol through all later steps, and the classifier must read the LAST state (chance is 0.25)"
    X, y = recall_symbol(2000, seed=0)
    X_eval, y_eval = recall_symbol(1000, seed=1)
    model = Build("SequenceClassifier", 4, 32, 4, cell="gru")
    sd = checks.reference_state_dict(reference, model, patch=TRUSTED_CELLS)
    result = submission.run("train_sequence_classifier", model=model, state_dict=sd, X=X, y=y, X_eval=X_eval,
                            steps=400, lr=1e-2, patch=TRUSTED_CELLS)
    logits = checks.expect_tensor(result["logits"], "the trained model's logits", prop, shape=(1000, 4), hint=hint)
    acc = float((logits.argmax(1) == y_eval).double().mean())
    checks.reaches(acc, 0.9, "held-out accuracy", prop, hint)
