"""The rnn reference and the grader's trusted pieces against PyTorch's cells and
nn.RNN/LSTM/GRU (independent oracles), and the facts the vanishing-gradient and accuracy
tests rest on."""

import copy
import importlib.util
from pathlib import Path
from types import SimpleNamespace

import pytest
import torch
from conftest import ROBUSTNESS_SEEDS

from autograder.course import assignment
from autograder.data.recall import recall_symbol
from autograder.judge.run import reference_for
from autograder.judge.subject import LocalSubject
from autograder.worker.probes import MODEL, Build
from autograder.worker.probes.rnn import (
    TRUSTED_RNN_AROUND,
    TrustedGRUCell,
    TrustedLSTMCell,
    TrustedRNN,
    TrustedRNNCell,
    TrustedSequenceClassifier,
    UnrolledCell,
    norms_by_autograd,
    trusted_cell,
)
from autograder.worker.spec import Swap, put_in

REFERENCE = reference_for("rnn")
ref = REFERENCE.module
SUBMISSIONS = Path(__file__).parent / "submissions" / "rnn"
_spec = importlib.util.spec_from_file_location("rnn_hidden_tests", assignment("rnn").hidden_tests)
HIDDEN = importlib.util.module_from_spec(_spec)
_spec.loader.exec_module(HIDDEN)
BUILTIN_SEQUENCE = {"rnn": torch.nn.RNN, "lstm": torch.nn.LSTM, "gru": torch.nn.GRU}


def gen(seed):
    return torch.Generator().manual_seed(seed)


def as_tuple(value):
    return value if isinstance(value, tuple) else (value,)


@pytest.mark.parametrize("name,kwargs", [("RNNCell", {}), ("RNNCell", {"nonlinearity": "relu"}), ("RNNCell", {"bias": False}),
                                         ("LSTMCell", {}), ("LSTMCell", {"bias": False}), ("GRUCell", {}), ("GRUCell", {"bias": False})])
def test_reference_cells_equal_pytorch_outputs_and_gradients(name, kwargs):
    ours = getattr(ref, name)(4, 6, **kwargs).double()
    theirs = getattr(torch.nn, name)(4, 6, **kwargs).double()
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(3, 4, dtype=torch.float64, requires_grad=True)
    h = torch.randn(3, 6, dtype=torch.float64, requires_grad=True)
    c = torch.randn(3, 6, dtype=torch.float64, requires_grad=True)
    state, wrt = ((h, c), [x, h, c]) if name == "LSTMCell" else (h, [x, h])
    for args, inputs in (((x,), [x]), ((x, state), wrt)):
        a, b = as_tuple(ours(*args)), as_tuple(theirs(*args))
        assert all(torch.allclose(u, w) for u, w in zip(a, b))
        ga = torch.autograd.grad(sum((t * (i + 1)).sum() for i, t in enumerate(a)), [*inputs, *ours.parameters()])
        gb = torch.autograd.grad(sum((t * (i + 1)).sum() for i, t in enumerate(b)), [*inputs, *theirs.parameters()])
        assert all(torch.allclose(u, w) for u, w in zip(ga, gb))


@pytest.mark.parametrize("cls,builtin", [(TrustedRNNCell, torch.nn.RNNCell), (TrustedLSTMCell, torch.nn.LSTMCell), (TrustedGRUCell, torch.nn.GRUCell)])
def test_trusted_cells_are_pytorch_cells_with_the_assignment_signature(cls, builtin):
    ours, theirs = cls(3, 4), builtin(3, 4)
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]
    theirs.load_state_dict(ours.state_dict())
    x, h = torch.randn(2, 3), torch.randn(2, 4)
    state = (h, h.flip(0)) if builtin is torch.nn.LSTMCell else h
    keyword = {"state": state} if builtin is torch.nn.LSTMCell else {"h": state}
    for a, b in ((ours(x), theirs(x)), (ours(x, **keyword), theirs(x, state))):
        assert all(torch.equal(u, w) for u, w in zip(as_tuple(a), as_tuple(b)))


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_reference_rnn_and_trusted_rnn_equal_pytorch_multi_step_modules(cell):
    builtin = BUILTIN_SEQUENCE[cell](3, 5, batch_first=True).double()
    x = torch.randn(2, 7, 3, dtype=torch.float64)
    h0 = torch.randn(2, 5, dtype=torch.float64)
    state = (h0, h0.flip(0)) if cell == "lstm" else h0
    for ours in (ref.RNN(3, 5, cell=cell).double(), TrustedRNN(3, 5, cell=cell).double()):
        builtin.load_state_dict({f"{n}_l0": p for n, p in ours.cell.state_dict().items()})
        for args, builtin_state in (((x,), None), ((x, state), tuple(s[None] for s in as_tuple(state)))):
            out_a, last_a = ours(*args)
            out_b, last_b = builtin(x, builtin_state if cell == "lstm" else (builtin_state[0] if builtin_state else None))
            assert torch.allclose(out_a, out_b)
            assert all(torch.allclose(u, w[0]) for u, w in zip(as_tuple(last_a), as_tuple(last_b)))


def test_unrolled_cell_stacks_the_states_of_a_cell():
    cell = ref.LSTMCell(3, 4).double()
    x = torch.randn(2, 5, 3, dtype=torch.float64)
    h, c = UnrolledCell(cell)(x)
    rnn = TrustedRNN(3, 4, cell="lstm").double()
    rnn.load_state_dict({f"cell.{n}": p for n, p in cell.state_dict().items()})
    out, (h_last, c_last) = rnn(x)
    assert h.shape == c.shape == (2, 5, 4)
    assert torch.allclose(h, out) and torch.allclose(c[:, -1], c_last)


def test_step_contributions_are_the_per_step_gradients():
    """The probe's per-call gradients equal hand-unrolled per-step copies of a tanh RNN's weights."""
    model = Build("RNN", 4, 5, cell="rnn").swap("cell", trusted_cell("rnn", 4, 5))
    sd = REFERENCE.run("state_dict", model=model, dtype=torch.float64)["state_dict"]
    x, cot = torch.randn(3, 6, 4, dtype=torch.float64), torch.randn(3, 6, 5, dtype=torch.float64)
    result = REFERENCE.run("step_contributions", model=model, state_dict=sd, x=x, cotangent=cot)
    copies = [{n.removeprefix("cell."): v.clone().requires_grad_() for n, v in sd.items()} for _ in range(6)]
    h, outputs = torch.zeros(3, 5, dtype=torch.float64), []
    for t, w in enumerate(copies):
        h = torch.tanh(x[:, t] @ w["weight_ih"].T + w["bias_ih"] + h @ w["weight_hh"].T + w["bias_hh"])
        outputs.append(h)
    (torch.stack(outputs, 1) * cot).sum().backward()
    assert result["calls"] == 6
    for t in range(6):
        for name, w in copies[t].items():
            assert torch.allclose(result["per_call"][t][name], w.grad)


class StudentLikeCell(torch.nn.Module):
    """A cell with a private attribute and a class constant, as a student's might have."""

    GATES = 4

    def __init__(self, input_size, hidden_size):
        super().__init__()
        self._flavour = "student"
        self.weight_ih = torch.nn.Parameter(torch.zeros(4 * hidden_size, input_size))


class StudentLikeRNN(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self._kind = "lstm"
        self.cell = StudentLikeCell(3, 5)

    def _private(self, x):
        return self(x)[0]


def test_a_trusted_cell_takes_the_place_and_class_of_the_students_cell():
    rnn = StudentLikeRNN()
    put_in(rnn, Swap("cell", trusted_cell("lstm", 3, 5)), SimpleNamespace())
    assert isinstance(rnn.cell, StudentLikeCell) and isinstance(rnn.cell, TrustedLSTMCell)
    assert rnn.cell._flavour == "student" and rnn.cell.GATES == 4
    assert sorted(n for n, _ in rnn.cell.named_parameters()) == ["bias_hh", "bias_ih", "weight_hh", "weight_ih"]
    builtin = torch.nn.LSTMCell(3, 5)
    builtin.load_state_dict(rnn.cell.state_dict())
    x = torch.randn(2, 3)
    assert all(torch.equal(a, b) for a, b in zip(rnn.cell(x), builtin(x)))


class CellWithProperties(StudentLikeCell):
    """Sizes as read-only properties and a class attribute named like a parameter: on the
    student's class they would hide the trusted cell's own values."""

    weight_hh = None

    @property
    def hidden_size(self):
        return 999

    @property
    def input_size(self):
        raise AttributeError("derived from weights the trusted cell does not have")


def test_a_students_properties_do_not_hide_the_trusted_cells_values():
    rnn = StudentLikeRNN()
    rnn.cell = CellWithProperties(3, 5)
    put_in(rnn, Swap("cell", trusted_cell("lstm", 3, 5)), SimpleNamespace())
    cell = rnn.cell
    assert isinstance(cell, CellWithProperties) and isinstance(cell, TrustedLSTMCell)  # `isinstance(self.cell, LSTMCell)` holds
    assert (cell.hidden_size, cell.input_size, cell._flavour) == (5, 3, "student")
    assert isinstance(cell.weight_hh, torch.nn.Parameter) and tuple(cell.weight_hh.shape) == (20, 5)
    builtin = torch.nn.LSTMCell(3, 5)
    builtin.load_state_dict(cell.state_dict())
    x = torch.randn(2, 3)
    assert all(torch.equal(a, b) for a, b in zip(cell(x), builtin(x)))
    cell.hidden_size = 6  # plain values are set on the trusted cell itself
    assert cell.hidden_size == 6 and "hidden_size" in vars(cell)


def test_while_a_probe_runs_the_students_name_of_a_swapped_class_names_the_trusted_parts_class():
    """`type(self.cell) is LSTMCell` (or `is KINDS["lstm"]`) holds for the grader's cell while
    the probe runs (for every part of that class: one class for them all), a cell the
    student's code builds by that name is the student's own (and an instance of it), a
    table keyed by the class finds its entry, a copy of the grader's cell is the grader's;
    afterwards every name is the student's class again, for the probes that grade the
    student's own cell."""

    def exact_types(model):
        own = module.Cell(3, 5)
        return torch.tensor([type(model.cell) is module.Cell, type(model.cell) is type(model.spare), type(model.spare) is module.Cell,
                             type(own) is StudentLikeCell, type(type(model.cell)(3, 5)) is StudentLikeCell,
                             type(copy.deepcopy(model.cell)) is type(model.cell), isinstance(own, module.Cell),
                             module.TABLE[type(model.cell)] == "cell", module.TABLE[type(own)] == "cell",
                             type(model.cell) is module.KINDS["lstm"]])

    class RNNWithSpareCell(StudentLikeRNN):
        def __init__(self):
            super().__init__()
            self.spare = StudentLikeCell(3, 5)

    module = SimpleNamespace(Cell=StudentLikeCell, Alias=StudentLikeCell, RNN=RNNWithSpareCell, exact_types=exact_types,
                             TABLE={StudentLikeCell: "cell"}, KINDS={"lstm": StudentLikeCell})
    model = Build("RNN").swap("cell", trusted_cell("lstm", 3, 5)).swap("spare", trusted_cell("lstm", 3, 5))
    subject = LocalSubject(module)
    assert subject.run("run", model=model, call="exact_types", args=(MODEL,), backward=False)["output"].all()
    assert module.Cell is StudentLikeCell and module.Alias is StudentLikeCell and module.KINDS["lstm"] is StudentLikeCell
    unswapped = subject.run("run", model=Build("RNN"), call="exact_types", args=(MODEL,), backward=False)["output"]
    assert unswapped.all()  # the student's own cells: their own class


def test_a_trusted_rnn_takes_the_place_and_class_of_the_students_rnn():
    clf = torch.nn.Module()
    clf.rnn = StudentLikeRNN()
    put_in(clf, Swap("rnn.cell", trusted_cell("lstm", 3, 5)), SimpleNamespace())
    put_in(clf, Swap("rnn", TRUSTED_RNN_AROUND), SimpleNamespace())
    assert isinstance(clf.rnn, StudentLikeRNN) and isinstance(clf.rnn, TrustedRNN) and clf.rnn._kind == "lstm"
    x = torch.randn(2, 4, 3)
    expected = TrustedRNN(cell=clf.rnn.cell)(x)[0]
    assert torch.equal(clf.rnn._private(x), expected)


def test_trusted_sequence_classifier_equals_the_reference_given_the_same_weights():
    ours, theirs = ref.SequenceClassifier(3, 5, 4, cell="gru"), TrustedSequenceClassifier(3, 5, 4, cell="gru")
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(2, 6, 3)
    assert torch.allclose(ours(x), theirs(x), atol=1e-6)


def test_norms_by_autograd_on_the_reference_rnn_equal_the_reference_norms():
    for cell in ("rnn", "lstm", "gru"):
        model = ref.RNN(3, 5, cell=cell).double()
        x = torch.randn(2, 6, 3, dtype=torch.float64)
        trusted = TrustedRNN(3, 5, cell).double()
        trusted.load_state_dict(model.state_dict())
        model.cell = trusted.cell
        assert torch.allclose(norms_by_autograd(model, x), ref.hidden_state_gradient_norms(model, x))


def test_gradient_norms_equal_the_total_derivative_from_autograd():
    model = ref.RNN(3, 5, cell="lstm").double()
    x = torch.randn(2, 6, 3, dtype=torch.float64)
    # dL/dh_t as the gradient of L w.r.t. an additive zero at step t
    deltas = [torch.zeros(2, 5, dtype=torch.float64, requires_grad=True) for _ in range(6)]
    state = None
    for t in range(6):
        state = model.cell(x[:, t], state)
        state = (state[0] + deltas[t], state[1])
    grads = torch.autograd.grad(state[0].sum(), deltas)
    expected = torch.stack([g.norm() for g in grads])
    assert torch.allclose(ref.hidden_state_gradient_norms(model, x), expected)


def test_vanishing_gradient_setup_is_robust_over_every_seed():
    """The hidden test's setup (PyTorch's cells, forget-gate bias 5 for the LSTM) with other
    weight and input seeds: the ratio first/last stays 100 times below the hidden test's bound
    for the tanh RNN (1e-8), and 10 times above it for the LSTM (1e-4)."""
    rnn_ratios, lstm_ratios = [], []
    for seed in ROBUSTNESS_SEEDS:
        x = torch.randn(8, 50, 3, generator=gen(100 + seed), dtype=torch.float64)
        for cell, ratios in (("rnn", rnn_ratios), ("lstm", lstm_ratios)):
            torch.manual_seed(seed)
            model = TrustedRNN(3, 16, cell=cell).double()
            if cell == "lstm":
                with torch.no_grad():
                    model.cell.bias_ih[16:32] = 5.0
                    model.cell.bias_hh[16:32] = 0.0
            norms = ref.hidden_state_gradient_norms(model, x)
            ratios.append(float(norms[0] / norms[-1]))
    print(f"first/last gradient norm on seeds {list(ROBUSTNESS_SEEDS)}: tanh RNN at most {max(rnn_ratios):.1e}, "
          f"LSTM at least {min(lstm_ratios):.1e}")
    assert max(rnn_ratios) < 1e-10, rnn_ratios
    assert min(lstm_ratios) > 1e-3, lstm_ratios


def _accuracy(subject, seed):
    """The hidden test's setup: the subject trains, the reference evaluates the weights."""
    X, y = recall_symbol(2000, seed=0)
    X_eval, y_eval = recall_symbol(1000, seed=1)
    model = Build("SequenceClassifier", 4, 32, 4, cell="gru").swap("rnn.cell", trusted_cell("gru", 4, 32))
    sd = REFERENCE.run("state_dict", model=model, seed=seed)["state_dict"]
    weights = subject.run("train_sequence_classifier", model=model, state_dict=sd, X=X, y=y, steps=HIDDEN.RECALL_STEPS, lr=1e-2,
                          seed=seed)["state_dict"]
    logits = REFERENCE.run("predict", model=model, state_dict=weights, args=(X_eval,))["output"]
    return float((logits.argmax(1) == y_eval).double().mean())


def test_recall_labels_are_the_second_symbol_and_balanced():
    X, y = recall_symbol(2000, seed=0)
    assert torch.equal(X[:, 1].argmax(1), y)
    assert torch.bincount(y, minlength=4).min() > 400
    assert torch.equal(recall_symbol(5, seed=3)[0], recall_symbol(5, seed=3)[0])


def test_reference_recalls_the_second_symbol_on_every_seed():
    """The hidden test's setup (GRU, trusted cells, its RECALL_STEPS Adam steps) with other seeds for the weights and the batches."""
    accuracies = [_accuracy(REFERENCE, seed) for seed in ROBUSTNESS_SEEDS]
    print(f"recall, held-out accuracy on seeds {list(ROBUSTNESS_SEEDS)}: {[round(a, 3) for a in accuracies]}")
    assert min(accuracies) >= 0.95, accuracies


@pytest.mark.parametrize("name", ["broken_state_not_carried", "broken_reads_first_state"])
def test_a_model_without_working_memory_stays_near_chance(name):
    spec = importlib.util.spec_from_file_location(f"rnn_{name}", SUBMISSIONS / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    assert _accuracy(LocalSubject(module), seed=0) < 0.4
