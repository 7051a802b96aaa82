"""Hidden tests of the rnn assignment (instructor-only).

Tests of `RNN` swap in PyTorch's own cells, and tests of `SequenceClassifier` a trusted
RNN (`patch=`), so a bug costs the points of the piece it is in; the vanishing-gradient
and accuracy tests run the student's whole stack.
"""

import pytest
import torch

from autograder import checks
from autograder.checks.symmetry import causal
from autograder.data.recall import recall_first
from autograder.probes import Build

CELL_BUILTINS = ("torch._VF",)
FORBID = {
    "RNNCell": ("torch.nn.RNNCell", "torch.nn.RNN", "torch.rnn_tanh_cell", "torch.rnn_relu_cell", *CELL_BUILTINS),
    "LSTMCell": ("torch.nn.LSTMCell", "torch.nn.LSTM", "torch.lstm_cell", *CELL_BUILTINS),
    "GRUCell": ("torch.nn.GRUCell", "torch.nn.GRU", "torch.gru_cell", *CELL_BUILTINS),
}
ALL_FORBIDDEN = tuple(sorted({n for names in FORBID.values() for n in names}))
TRUSTED_CELLS = {"RNNCell": "torch.nn:RNNCell", "LSTMCell": "torch.nn:LSTMCell", "GRUCell": "torch.nn:GRUCell"}
TRUSTED_RNN = {"RNN": "autograder.probes.rnn:TrustedRNN"}
H = 6


def randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def state_for(cell, seed=9):
    h = randn(3, H, seed=seed)
    return (h, randn(3, H, seed=seed + 1)) if cell == "LSTMCell" else h


# -- cells -------------------------------------------------------------------------------

@pytest.mark.points(1)
@pytest.mark.property("parameter layout")
@pytest.mark.forbid(*ALL_FORBIDDEN)
def test_cells_have_pytorch_parameter_layout(submission):
    """RNNCell, LSTMCell and GRUCell have nn.*Cell's parameter names and shapes (also without bias)."""
    for name in ("RNNCell", "LSTMCell", "GRUCell"):
        for bias in (True, False):
            builtin = getattr(torch.nn, name)(4, H, bias=bias)
            expected = {n: list(p.shape) for n, p in builtin.named_parameters()}
            checks.parameters_like(submission, Build(name, 4, H, bias=bias), expected, prop="parameter layout",
                                   hint="weight_ih (gates·H, I), weight_hh (gates·H, H), bias_ih, bias_hh — gates = 1, 4, 3")


def _cell_test(reference, submission, name, prop, hint, **kwargs):
    model = Build(name, 4, H, **kwargs)
    checks.matches_reference(submission, reference, model=model, prop=prop, hint=hint,
                             inputs=[(randn(3, 4),), (randn(3, 4, seed=1), state_for(name)), (randn(1, 4, seed=2),)])


@pytest.mark.points(2)
@pytest.mark.property("equality with nn.RNNCell")
@pytest.mark.forbid(*FORBID["RNNCell"])
def test_rnn_cell_matches_reference(reference, submission):
    """Outputs and gradients equal the reference for tanh and relu, with h=None and a given h."""
    for nonlinearity in ("tanh", "relu"):
        _cell_test(reference, submission, "RNNCell", "equality with nn.RNNCell",
                   "h' = act(x W_ih^T + b_ih + h W_hh^T + b_hh); h=None means zeros", nonlinearity=nonlinearity)


@pytest.mark.points(2)
@pytest.mark.property("equality with nn.LSTMCell")
@pytest.mark.forbid(*FORBID["LSTMCell"])
def test_lstm_cell_matches_reference(reference, submission):
    """(h, c) and gradients equal the reference, with state=None and a given (h, c)."""
    _cell_test(reference, submission, "LSTMCell", "equality with nn.LSTMCell",
               "gates in the order i, f, g, o; c' = f*c + i*g; h' = o*tanh(c')")


@pytest.mark.points(2)
@pytest.mark.property("equality with nn.GRUCell")
@pytest.mark.forbid(*FORBID["GRUCell"])
def test_gru_cell_matches_reference(reference, submission):
    """h' and gradients equal the reference, with h=None and a given h."""
    _cell_test(reference, submission, "GRUCell", "equality with nn.GRUCell",
               "gates r, z, n; n = tanh(W_in x + b_in + r * (W_hn h + b_hn)); h' = (1 - z) * n + z * h")


# -- RNN through time --------------------------------------------------------------------

@pytest.mark.points(2)
@pytest.mark.property("unrolling through time")
@pytest.mark.forbid(*ALL_FORBIDDEN)
def test_rnn_matches_reference(reference, submission):
    """(outputs, last_state) and gradients equal the reference for every cell, T = 1 and 5, with and without a state."""
    for cell, state_cell in (("rnn", "RNNCell"), ("lstm", "LSTMCell"), ("gru", "GRUCell")):
        checks.matches_reference(submission, reference, model=Build("RNN", 4, H, cell=cell), patch=TRUSTED_CELLS,
                                 inputs=[(randn(3, 1, 4),), (randn(3, 5, 4, seed=1),), (randn(3, 5, 4, seed=2), state_for(state_cell))],
                                 prop="unrolling through time",
                                 hint="outputs[:, t] is h after step t (in time order); last_state is the cell's final state")


@pytest.mark.points(1)
@pytest.mark.property("weight sharing through time")
@pytest.mark.forbid(*ALL_FORBIDDEN)
def test_rnn_has_one_cell_for_every_length(submission):
    """The only parameters are the one cell's, whatever the sequence length; any T ≥ 1 works."""
    prop, hint = "weight sharing through time", "keep a single cell in `self.cell` and apply it at every step"
    for cell, builtin in (("rnn", torch.nn.RNNCell), ("gru", torch.nn.GRUCell)):
        expected = {f"cell.{n}": list(p.shape) for n, p in builtin(4, H).named_parameters()}
        checks.parameters_like(submission, Build("RNN", 4, H, cell=cell), expected, patch=TRUSTED_CELLS, prop=prop, hint=hint)
    for T in (1, 2, 9):
        result = submission.run("run", model=Build("RNN", 4, H, cell="gru"), patch=TRUSTED_CELLS, args=(randn(2, T, 4).float(),))
        out = result["output"]
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            checks.base.fail(prop, "RNN.forward should return (outputs, last_state)", hint)
        checks.expect_tensor(out[0], f"outputs for T = {T}", prop, shape=(2, T, H), hint=hint)
        if result["param_shapes"] != {n: list(s) for n, s in expected.items()}:
            checks.base.fail(prop, f"the parameters changed after a sequence of length {T}", hint)


@pytest.mark.points(1)
@pytest.mark.property("weight sharing through time")
@pytest.mark.forbid(*ALL_FORBIDDEN)
def test_shared_weight_gradient_is_the_sum_over_steps(reference, submission):
    """The gradient of weight_hh equals the sum of its per-step contributions (computed by the grader)."""
    prop, hint = "weight sharing through time", "use the same cell (the same weights) at every step, so autograd sums the contributions"
    model = Build("RNN", 4, H, cell="rnn")
    sd = checks.reference_state_dict(reference, model, torch.float64, patch=TRUSTED_CELLS)
    x = randn(3, 6, 4, seed=4)
    cot = randn(3, 6, H, seed=5)
    result = submission.run("run", model=model, state_dict=sd, dtype=torch.float64, patch=TRUSTED_CELLS, args=(x,), cotangent=cot)
    # per-step copies of the weights: step t uses its own copy, then the grads are summed
    copies = {n: [v.clone().requires_grad_() for _ in range(6)] for n, v in sd.items()}
    h = torch.zeros(3, H, dtype=torch.float64)
    outputs = []
    for t in range(6):
        w = {n: copies[n][t] for n in copies}
        h = torch.tanh(x[:, t] @ w["cell.weight_ih"].T + w["cell.bias_ih"] + h @ w["cell.weight_hh"].T + w["cell.bias_hh"])
        outputs.append(h)
    (torch.stack(outputs, 1) * cot).sum().backward()
    for name in ("cell.weight_hh", "cell.weight_ih"):
        expected = sum(c.grad for c in copies[name])
        checks.expect_close(result["param_grads"].get(name), expected, f"the gradient of `{name}`", prop, hint=hint)


@pytest.mark.points(1)
@pytest.mark.property("causality")
@pytest.mark.forbid(*ALL_FORBIDDEN)
def test_rnn_is_causal(reference, submission):
    """Output t neither changes nor has a gradient when inputs after t change."""
    for cell in ("rnn", "lstm"):
        model = Build("RNN", 4, H, cell=cell)
        sd = checks.reference_state_dict(reference, model, torch.float64, patch=TRUSTED_CELLS)
        causal(submission, model=model, state_dict=sd, args=(randn(2, 6, 4),), patch=TRUSTED_CELLS, positions=(0, 3),
               prop="causality", hint="step t may only use inputs 0..t — read x[:, t], never later steps")


@pytest.mark.points(1)
@pytest.mark.property("gradient flow through time")
@pytest.mark.forbid(*ALL_FORBIDDEN)
def test_gradients_reach_the_first_input(reference, submission):
    """The last output has a non-zero gradient with respect to the first input (no detach in the loop)."""
    prop, hint = "gradient flow through time", "do not detach (or re-create) the state between steps: gradients must flow back through it"
    for cell in ("rnn", "gru", "lstm"):
        model = Build("RNN", 4, H, cell=cell)
        sd = checks.reference_state_dict(reference, model, torch.float64, patch=TRUSTED_CELLS)
        cot = torch.zeros(2, 5, H, dtype=torch.float64)
        cot[:, -1] = 1.0
        result = submission.run("run", model=model, state_dict=sd, dtype=torch.float64, patch=TRUSTED_CELLS,
                                args=(randn(2, 5, 4),), grad_args=(0,), cotangent=cot)
        grad = checks.expect_tensor(result["input_grads"][0], "the gradient w.r.t. the input", prop, hint=hint)
        if float(grad[:, 0].abs().max()) == 0.0:
            checks.base.fail(prop, f"({cell}) the last output has no gradient w.r.t. the first input", hint)


# -- the vanishing-gradient experiment ------------------------------------------------------

def _norms(subject, model, sd, x):
    return subject.run("gradient_norms_experiment", model=model, state_dict=sd, x=x, patch=TRUSTED_CELLS)


@pytest.mark.points(2)
@pytest.mark.property("gradient norms")
def test_gradient_norms_match_autograd(reference, submission):
    """hidden_state_gradient_norms equals the total derivative's norms (T = 1 and 7), detached, in x's dtype, .grad untouched."""
    prop, hint = "gradient norms", "collect every h_t, then torch.autograd.grad(h_last.sum(), [h_0, ..., h_last]) — it leaves .grad alone"
    for cell in ("rnn", "lstm"):
        model = Build("RNN", 3, H, cell=cell)
        for dtype in (torch.float64, torch.float32):
            sd = checks.reference_state_dict(reference, model, dtype, patch=TRUSTED_CELLS)
            for T in (1, 7):
                x = randn(4, T, 3, seed=T).to(dtype)
                expected = _norms(reference, model, sd, x)["norms"]
                actual = _norms(submission, model, sd, x)
                checks.expect_close(actual["norms"], expected, f"the norms ({cell}, T = {T}, {dtype})", prop, hint=hint)
                if not actual["detached"]:
                    checks.base.fail(prop, "the returned norms still require grad: return a detached tensor", hint)
                if not actual["grads_kept"]:
                    checks.base.fail(prop, "a parameter's .grad changed: use torch.autograd.grad, not backward()", hint)


@pytest.mark.points(1)
@pytest.mark.property("vanishing gradients")
def test_tanh_gradients_vanish_and_lstm_gradients_do_not(reference, submission):
    """Over T = 50, your tanh RNN's norms fall by > 6 orders of magnitude; your LSTM's (forget bias 5) stay above 1%."""
    prop, hint = "vanishing gradients", "both runs use your own cells, RNN and hidden_state_gradient_norms"
    x = randn(8, 50, 3, seed=11)
    for cell, check in (("rnn", lambda r: r < 1e-6), ("lstm", lambda r: r > 1e-2)):
        model = Build("RNN", 3, 16, cell=cell)
        sd = checks.reference_state_dict(reference, model, torch.float64, seed=3)
        if cell == "lstm":
            sd["cell.bias_ih"][16:32] = 5.0  # the forget gate: keep the memory
            sd["cell.bias_hh"][16:32] = 0.0
        norms = checks.expect_tensor(submission.run("gradient_norms_experiment", model=model, state_dict=sd, x=x)["norms"],
                                     "the norms", prop, shape=(50,), hint=hint)
        ratio = float(norms[0] / norms[-1]) if float(norms[-1]) > 0 else 0.0
        if not check(ratio):
            checks.base.fail(prop, f"({cell}) the first step's gradient norm is {ratio:.1e} times the last one's", hint)


# -- sequence classifier ---------------------------------------------------------------------

@pytest.mark.points(1)
@pytest.mark.property("sequence classifier")
def test_sequence_classifier_matches_reference(reference, submission):
    """`rnn` and `readout` as specified; logits from the last hidden state equal the reference's."""
    for cell in ("lstm", "gru"):
        checks.matches_reference(submission, reference, model=Build("SequenceClassifier", 4, H, 3, cell=cell), patch=TRUSTED_RNN,
                                 inputs=[(randn(2, 5, 4),)], prop="sequence classifier",
                                 hint="readout(outputs[:, -1]) — the hidden state after the LAST step")


@pytest.mark.points(3)
@pytest.mark.property("accuracy on a memory task")
def test_sequence_classifier_remembers_the_first_symbol(reference, submission):
    """Trained by the grader, your GRU SequenceClassifier recalls the first of 10 symbols (≥ 90%)."""
    prop, hint = "accuracy on a memory task", "the state must carry the first symbol through all later steps (chance is 25%)"
    X, y = recall_first(2000, seed=0)
    X_eval, y_eval = recall_first(1000, seed=1)
    model = Build("SequenceClassifier", 4, 32, 4, cell="gru")
    sd = checks.reference_state_dict(reference, model)
    result = submission.run("train_sequence_classifier", model=model, state_dict=sd, X=X, y=y, X_eval=X_eval, steps=400, lr=1e-2)
    logits = checks.expect_tensor(result["logits"], "the trained model's logits", prop, shape=(1000, 4), hint=hint)
    acc = float((logits.argmax(1) == y_eval).double().mean())
    if acc < 0.9:
        checks.base.fail(prop, f"held-out accuracy {acc:.2f} is below the required 0.90", hint)
