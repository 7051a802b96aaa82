"""Public tests of the rnn assignment — run them with `nnzoo test rnn`.

They compare your cells with PyTorch's, given the same weights; then, with PyTorch's cell
put into your RNN where it keeps its cell (`self.cell`), your RNN with PyTorch's cell
applied step by step; then weight sharing, which cell `cell=...` picks, the gradient norms
against autograd, the classifier, and (marked `trains`, left out by `nnzoo test --quick`)
a short training run on a memory task.  Each test grades one piece, so the first failure
points at the piece to fix.  The hidden tests check the same properties more thoroughly.
"""

from types import SimpleNamespace

import pytest
import torch

from autograder import checks
from autograder.checks.base import fail
from autograder.checks.modules import compare_nested, without_private_buffers
from autograder.data.recall import recall_symbol
from autograder.judge.subject import LocalSubject
from autograder.worker.probes import MODEL, Build
from autograder.worker.probes.core import build_model
from autograder.worker.probes.rnn import (
    TRUSTED_RNN_AROUND,
    TrustedGRUCell,
    TrustedLSTMCell,
    TrustedRNN,
    TrustedRNNCell,
    TrustedSequenceClassifier,
    norms_by_autograd,
    trusted_cell,
)
from autograder.worker.spec import names_follow_swaps

#: PyTorch's own cells (behind this assignment's signatures), unrolled and classified by trusted code.
PYTORCH = LocalSubject(SimpleNamespace(RNNCell=TrustedRNNCell, LSTMCell=TrustedLSTMCell, GRUCell=TrustedGRUCell, RNN=TrustedRNN,
                                       SequenceClassifier=TrustedSequenceClassifier), label="PyTorch")
#: The grader's own code: your rnn.py may not use it.
GRADER = ("autograder.worker",)
#: The multi-step built-ins and PyTorch's private kernels: forbidden wherever your RNN runs.
SEQUENCE = ("torch.nn.RNN", "torch.nn.LSTM", "torch.nn.GRU", "torch.nn.RNNBase", "torch._VF", "torch.nn.modules.rnn", *GRADER)
#: The built-in each cell task asks you to write yourself.
CELL_BUILTINS = {
    "RNNCell": ("torch.nn.RNNCell", "torch.rnn_tanh_cell", "torch.rnn_relu_cell"),
    "LSTMCell": ("torch.nn.LSTMCell", "torch.lstm_cell"),
    "GRUCell": ("torch.nn.GRUCell", "torch.gru_cell"),
}
FORBID_CELL = {name: (*names, "torch.nn.RNNCellBase", *SEQUENCE) for name, names in CELL_BUILTINS.items()}
FORBID_CELLS = tuple(sorted({n for names in FORBID_CELL.values() for n in names}))
CELL_OF = {"rnn": "RNNCell", "lstm": "LSTMCell", "gru": "GRUCell"}



def randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed))


def state_for(name, batch, seed=7, scale=1.0):
    h = scale * randn(batch, 5, seed=seed)
    return (h, scale * randn(batch, 5, seed=seed + 1)) if name == "LSTMCell" else h


def on_pytorch_cell(cell):
    """Your RNN(3, 5, cell=cell) with PyTorch's cell in `self.cell`."""
    return Build("RNN", 3, 5, cell=cell).swap("cell", trusted_cell(cell, 3, 5))


def layout(weights):
    """`name (shape)` of every tensor in a state_dict, sorted."""
    return ", ".join(f"{n} {tuple(v.shape)}" for n, v in sorted(weights.items()) if isinstance(v, torch.Tensor))


def compare_tree(actual, expected, what, prop, hint):
    if isinstance(expected, dict):
        if not isinstance(actual, dict) or set(actual) != set(expected):
            fail(prop, f"{what} should have the entries {sorted(expected)}", hint)
        for key in expected:
            compare_tree(actual[key], expected[key], f"{what}[{key!r}]", prop, hint)
    else:
        compare_nested(actual, expected, what, prop, hint)


# -- cells -------------------------------------------------------------------------------

@pytest.mark.timeout(20)
@pytest.mark.points(1)
@pytest.mark.property("parameter layout")
@pytest.mark.forbid(*FORBID_CELLS)
def test_cells_have_pytorch_parameter_layout(submission):
    """RNNCell, LSTMCell and GRUCell have nn.*Cell's parameter names and shapes (also with bias=False),
    and a state_dict of nn.*Cell loads into them."""
    prop = "parameter layout"
    hint = "weight_ih (gates·H, I), weight_hh (gates·H, H), bias_ih, bias_hh (gates·H,) — gates = 1, 4, 3; with bias=False register no biases"
    for name in CELL_OF.values():
        for bias in (True, False):
            model = Build(name, 3, 5, bias=bias)
            builtin = getattr(torch.nn, name)(3, 5, bias=bias)
            checks.parameters_like(submission, model, {n: list(p.shape) for n, p in builtin.named_parameters()}, prop=prop, hint=hint)
            weights = {n: v.detach().clone() for n, v in builtin.state_dict().items()}
            try:
                back = submission.run("run", model=model, state_dict=weights, call=".state_dict", backward=False)["output"]
            except RuntimeError as exc:
                fail(prop, f"nn.{name}'s state_dict does not load into your {model}: {' '.join(str(exc).split())[:300]}", hint)
            if isinstance(back, dict):  # a buffer of your own with a private name (e.g. `_zero`) may come back too
                back = without_private_buffers(back, weights)
            compare_tree(back, weights, f"{model}'s state_dict after loading nn.{name}'s", prop, hint)


def _cell_matches(submission, name, prop, hint, **kwargs):
    """Outputs (h=None) and outputs and gradients (a given state, B = 2 and 1, far from 0; bias=False, h=None too; three
    steps applied by trusted code, so that gradients through the state count) equal PyTorch's."""
    model = Build(name, 3, 5, **kwargs)
    checks.matches_reference(submission, PYTORCH, model=model, inputs=[(randn(2, 3),)], gradients=False, prop=prop, hint=hint)
    inputs = [(randn(2, 3, seed=1), state_for(name, 2)), (randn(1, 3, seed=2), state_for(name, 1)),
              (20 * randn(2, 3, seed=11), state_for(name, 2, seed=12, scale=5.0))]  # far from 0: nothing clipped
    checks.matches_reference(submission, PYTORCH, model=model, inputs=inputs, prop=prop, hint=hint)
    no_bias = Build(name, 3, 5, bias=False, **kwargs)
    checks.matches_reference(submission, PYTORCH, model=no_bias, inputs=[(randn(2, 3),)], gradients=False, prop=prop,
                             hint=hint + "; with bias=False, no bias terms (and a state of None is zeros there too)")
    checks.matches_reference(submission, PYTORCH, model=no_bias, inputs=inputs[:1], prop=prop, hint=hint + "; with bias=False, no bias terms")
    checks.matches_reference(submission, PYTORCH, model=Build("autograder.worker.probes.rnn:UnrolledCell", model), inputs=[(randn(2, 3, 3, seed=3),)],
                             dtypes=(torch.float64,), prop=prop,
                             hint=hint + " (here your cell runs for 3 steps: the gradient must also flow back through the state h)")


@pytest.mark.timeout(20)
@pytest.mark.points(1)
@pytest.mark.property("equality with nn.RNNCell")
@pytest.mark.forbid(*FORBID_CELL["RNNCell"])
def test_rnn_cell_matches_nn_rnn_cell(submission):
    """Given nn.RNNCell's weights, RNNCell computes the same h' and gradients (tanh and relu, with and without bias)."""
    for nonlinearity in ("tanh", "relu"):
        _cell_matches(submission, "RNNCell", "equality with nn.RNNCell", f"h' = {nonlinearity}(x W_ih^T + b_ih + h W_hh^T + b_hh)",
                      nonlinearity=nonlinearity)


@pytest.mark.timeout(20)
@pytest.mark.points(1)
@pytest.mark.property("equality with nn.LSTMCell")
@pytest.mark.forbid(*FORBID_CELL["LSTMCell"])
def test_lstm_cell_matches_nn_lstm_cell(submission):
    """Given nn.LSTMCell's weights, LSTMCell computes the same (h', c') and gradients."""
    _cell_matches(submission, "LSTMCell", "equality with nn.LSTMCell", "gate order i, f, g, o; c' = f*c + i*g; h' = o*tanh(c')")


@pytest.mark.timeout(20)
@pytest.mark.points(1)
@pytest.mark.property("equality with nn.GRUCell")
@pytest.mark.forbid(*FORBID_CELL["GRUCell"])
def test_gru_cell_matches_nn_gru_cell(submission):
    """Given nn.GRUCell's weights, GRUCell computes the same h' and gradients."""
    _cell_matches(submission, "GRUCell", "equality with nn.GRUCell", "gate order r, z, n; r multiplies (W_hn h + b_hn)")


# -- RNN through time --------------------------------------------------------------------

@pytest.mark.timeout(20)
@pytest.mark.points(1)
@pytest.mark.property("unrolling through time")
@pytest.mark.forbid(*SEQUENCE)
def test_rnn_output_shapes(submission):
    """RNN(3, 5) maps (B, T, 3) to outputs (B, T, 5), for T = 1 and 8 and for B = 1."""
    checks.shape_preserved(submission, model=on_pytorch_cell("gru"), make_args=lambda bt: (randn(bt[0], bt[1], 3),),
                           expected_shape=lambda bt: (bt[0], bt[1], 5), sizes=((2, 1), (2, 8), (1, 3)), prop="unrolling through time",
                           hint="return (torch.stack(outputs, dim=1), last_state): outputs is (B, T, H), also for B = 1 or T = 1")


@pytest.mark.timeout(20)
@pytest.mark.points(1)
@pytest.mark.property("unrolling through time")
@pytest.mark.forbid(*SEQUENCE)
@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_rnn_matches_pytorch_cells_unrolled(submission, cell):
    """With PyTorch's cell in `self.cell`, RNN's (outputs, last_state) and gradients (w.r.t. x and a given state) equal that cell applied
    step by step (T = 3, 4 and 20), also at the second call of one RNN (state=None starts from zeros on every call)."""
    hint = "state = self.cell(x[:, t], state) for t = 0, 1, ... in order, without detaching the state (nor the one given); " \
           "outputs[:, t] is h after step t"
    checks.matches_reference(submission, PYTORCH, model=on_pytorch_cell(cell), inputs=[(randn(2, 4, 3),), (randn(2, 20, 3, seed=2),)],
                             prop="unrolling through time", hint=hint)
    checks.matches_reference(submission, PYTORCH, model=on_pytorch_cell(cell), inputs=[(randn(1, 3, 3, seed=1), state_for(CELL_OF[cell], 1))],
                             grad_args=(0, 1), prop="unrolling through time", hint=hint)
    checks.matches_reference(submission, PYTORCH, model=on_pytorch_cell(cell), inputs=[(randn(2, 4, 3),)], calls_before=1,
                             prop="unrolling through time", hint="with state=None every call starts from zeros: keep nothing from one call to the next")


@pytest.mark.timeout(20)
@pytest.mark.points(1)
@pytest.mark.property("gradient flow through time")
@pytest.mark.forbid(*SEQUENCE)
def test_gradients_reach_the_first_step(submission):
    """With PyTorch's cells, the last output of a 60-step sequence has a gradient w.r.t. the first input (tiny for a tanh RNN,
    but not zero): nothing in the loop cuts the chain."""
    prop, hint = "gradient flow through time", ("do not detach (or re-create) the state between steps, not even every k steps "
                                                "(truncated backpropagation): the gradient must reach the first step")
    x = randn(2, 60, 3, seed=4).double()
    cotangent = torch.zeros(2, 60, 5, dtype=torch.float64)
    cotangent[:, -1] = 1.0  # L = outputs[:, -1].sum()
    for cell in ("rnn", "lstm", "gru"):
        result = submission.run("run", model=on_pytorch_cell(cell), dtype=torch.float64, args=(x,), grad_args=(0,), cotangent=cotangent)
        grad = result["input_grads"][0]
        if grad is None:
            fail(prop, f"({cell}) the outputs have no gradient w.r.t. the input", hint)
        grad = checks.expect_tensor(grad, "the gradient w.r.t. the input", prop, shape=tuple(x.shape), hint=hint)
        if float(grad[:, 0].abs().max()) == 0.0:
            fail(prop, f"({cell}, T = 60) the last output has no gradient w.r.t. the first input", hint)


@pytest.mark.timeout(20)
@pytest.mark.points(1)
@pytest.mark.property("weight sharing through time")
@pytest.mark.forbid(*SEQUENCE)
def test_rnn_runs_its_one_cell_once_per_step(submission):
    """RNN runs the cell in `self.cell` once per time step, and creates no parameters as sequences get longer."""
    prop, hint = "weight sharing through time", "call self.cell(x[:, t], state) at every step t — the same cell, no new modules in forward"
    for cell in CELL_OF:
        with names_follow_swaps():  # as in a probe: `type(self.cell) is LSTMCell` holds for PyTorch's cell too
            rnn = build_model(submission.module, on_pytorch_cell(cell), None, None)
            names = sorted(n for n, _ in rnn.named_parameters())
            for T in (1, 4):
                rnn.cell.states = []  # PyTorch's cell records every h it computes
                try:
                    rnn(randn(2, T, 3))
                    calls = len(rnn.cell.states)
                finally:
                    rnn.cell.states = None
                if calls != T:
                    fail(prop, f"({cell}) `self.cell` ran {calls} times for a sequence of {T} steps", hint)
                if sorted(n for n, _ in rnn.named_parameters()) != names:
                    fail(prop, f"({cell}) the parameters changed after a sequence of {T} steps", hint)


@pytest.mark.timeout(20)
@pytest.mark.points(1)
@pytest.mark.property("cell choice")
@pytest.mark.forbid(*SEQUENCE)
def test_rnn_cell_argument_picks_the_cell(submission):
    """RNN(3, 5, cell=...) keeps your RNNCell (the default, tanh), LSTMCell or GRUCell in `self.cell`."""
    prop = "cell choice"
    hint = 'RNN(..., cell="lstm") keeps LSTMCell(input_size, hidden_size) in self.cell; "gru" a GRUCell; "rnn" (the default) a tanh RNNCell'
    for cell in (None, "rnn", "lstm", "gru"):
        kind = cell or "rnn"
        rnn = Build("RNN", 3, 5) if cell is None else Build("RNN", 3, 5, cell=cell)
        own = Build(CELL_OF[kind], 3, 5)
        fresh = submission.run("run", model=rnn, call=".state_dict", backward=False)["output"]
        weights = {n.removeprefix("cell."): v for n, v in fresh.items() if n.startswith("cell.")}
        standalone = submission.run("run", model=own, call=".state_dict", backward=False)["output"]
        if layout(weights) != layout(standalone):
            fail(prop, f"{rnn}.cell has the parameters {layout(weights)}, your {own} {layout(standalone)}", hint)
        args = (randn(2, 3), state_for(CELL_OF[kind], 2))
        via_rnn = submission.run("run", model=rnn, state_dict=fresh, call=".cell", args=args, backward=False)["output"]
        alone = submission.run("run", model=own, state_dict=weights, args=args, backward=False)["output"]
        compare_nested(via_rnn, alone, f"{rnn}.cell's output against your {own}'s with the same weights", prop, hint)


# -- the vanishing-gradient experiment ------------------------------------------------------

@pytest.mark.timeout(20)
@pytest.mark.points(1)
@pytest.mark.property("gradient norms")
@pytest.mark.forbid(*GRADER)
def test_gradient_norms_match_autograd(submission):
    """hidden_state_gradient_norms: one norm ||dL/dh_t|| per step, shape (T,) also for T = 1, detached, .grad untouched, in x's dtype."""
    prop, hint = "gradient norms", "keep every h_t, then torch.autograd.grad(h_last.sum(), [h_0, ..., h_last]) — it leaves .grad alone"
    for cell in ("rnn", "lstm"):
        model = on_pytorch_cell(cell)
        weights = PYTORCH.run("state_dict", model=model)["state_dict"]
        pytorch = TrustedRNN(3, 5, cell)
        pytorch.load_state_dict(weights)
        for B, T in ((2, 1), (2, 6), (1, 4)):
            x = randn(B, T, 3, seed=T)
            what = f"the vector of norms ({cell}, B = {B}, T = {T})"
            result = submission.run("run", model=model, state_dict=weights, call="hidden_state_gradient_norms", args=(MODEL, x), backward=False)
            checks.expect_close(result["output"], norms_by_autograd(pytorch, x).detach(), what, prop, hint=hint)
            if any(g is not None for g in result["param_grads"].values()):
                fail(prop, "a parameter's .grad changed during the call", "use torch.autograd.grad, which leaves .grad alone")
            attached = submission.run("run", model=model, state_dict=weights, call="hidden_state_gradient_norms", args=(MODEL, x))
            if any(g is not None for g in attached["param_grads"].values()):
                fail(prop, "the returned norms are still attached to the model's graph", "return a detached tensor")
        x = randn(2, 6, 3, seed=8).double()  # float64 in: float64 out, at float64 precision
        result = submission.run("run", model=model, state_dict=weights, dtype=torch.float64, call="hidden_state_gradient_norms",
                                args=(MODEL, x), backward=False)
        checks.expect_close(result["output"], norms_by_autograd(pytorch.double(), x).detach(), f"the vector of norms ({cell}, float64)",
                            prop, hint=hint)


# -- sequence classifier ---------------------------------------------------------------------

@pytest.mark.timeout(20)
@pytest.mark.points(1)
@pytest.mark.property("sequence classifier")
@pytest.mark.forbid(*SEQUENCE)
def test_sequence_classifier_reads_the_last_hidden_state(submission):
    """SequenceClassifier(3, 5, 4, cell=...) holds your RNN(3, 5, cell=...) in `rnn` and a readout of the
    last hidden state: (B, T, 3) -> (B, 4) logits, also for B = 1."""
    prop, hint = "sequence classifier", "self.rnn = RNN(..., cell=cell); logits = self.readout(outputs[:, -1]), shape (B, C) also for B = 1"
    for cell in (None, "gru"):
        clf = Build("SequenceClassifier", 3, 5, 4) if cell is None else Build("SequenceClassifier", 3, 5, 4, cell=cell)
        rnn = Build("RNN", 3, 5, cell=cell or "lstm")
        got = submission.run("state_dict", model=clf)["param_shapes"]
        want = {f"rnn.{n}": s for n, s in submission.run("state_dict", model=rnn)["param_shapes"].items()}
        want.update({"readout.weight": [4, 5], "readout.bias": [4]})
        if got != want:
            fail(prop, f"{clf} should hold your {rnn} in `rnn` and nn.Linear(5, 4) in `readout`; its parameters differ", hint)
    for cell in ("rnn", "lstm", "gru"):
        on_cell = Build("SequenceClassifier", 3, 5, 4, cell=cell).swap("rnn.cell", trusted_cell(cell, 3, 5))
        inputs = [(randn(2, 6, 3),), (randn(1, 4, 3, seed=1),)]
        try:  # around PyTorch's cells unrolled by trusted code, so that only the classifier is graded
            checks.matches_reference(submission, PYTORCH, model=on_cell.swap("rnn", TRUSTED_RNN_AROUND), inputs=inputs, prop=prop, hint=hint)
        except Exception as alone:
            try:  # a classifier that needs its own RNN (e.g. one of its methods): around it
                checks.matches_reference(submission, PYTORCH, model=on_cell, inputs=inputs, prop=prop, hint=hint)
            except Exception:
                raise alone from None


@pytest.mark.trains
@pytest.mark.timeout(60)
@pytest.mark.points(2)
@pytest.mark.property("accuracy on a memory task")
@pytest.mark.forbid(*SEQUENCE)
def test_sequence_classifier_learns_to_recall_a_symbol(submission):
    """Trained by the grader's loop (PyTorch's GRU cell in `rnn.cell`), SequenceClassifier recalls the
    2nd of 10 symbols on sequences it has not seen (chance is 0.25)."""
    prop = "accuracy on a memory task"
    hint = ("the state must carry the 2nd symbol through all later steps, start from zeros for every batch (nothing kept between calls), "
            "and the classifier must read the LAST state")
    X, y = recall_symbol(2000, seed=5)
    X_test, y_test = recall_symbol(500, seed=6)
    model = Build("SequenceClassifier", 4, 32, 4, cell="gru").swap("rnn.cell", trusted_cell("gru", 4, 32))
    start = PYTORCH.run("state_dict", model=model, seed=1)["state_dict"]
    result = submission.run("train_sequence_classifier", model=model, state_dict=start, X=X, y=y, steps=250, lr=1e-2, seed=1)
    weights = checks.trained_weights(result, prop, hint)
    logits = checks.evaluated_output(PYTORCH, model=model, weights=weights, args=(X_test,), prop=prop, hint=hint)
    checks.reaches(checks.accuracy_of(logits, y_test), 0.9, "accuracy on new sequences", prop, hint)
