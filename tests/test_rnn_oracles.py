"""The rnn reference against PyTorch's cells and nn.RNN/LSTM/GRU (independent oracles),
and the facts the vanishing-gradient and accuracy tests rest on."""

import pytest
import torch

from autograder.data.recall import recall_first
from autograder.judge.run import reference_for
from autograder.probes import Build
from autograder.probes.rnn import train_sequence_classifier

ref = reference_for("rnn").module


@pytest.mark.parametrize("name,kwargs", [("RNNCell", {}), ("RNNCell", {"nonlinearity": "relu"}), ("RNNCell", {"bias": False}),
                                         ("LSTMCell", {}), ("GRUCell", {}), ("GRUCell", {"bias": False})])
def test_cells_equal_pytorch_outputs_and_gradients(name, kwargs):
    ours = getattr(ref, name)(4, 6, **kwargs).double()
    theirs = getattr(torch.nn, name)(4, 6, **kwargs).double()
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(3, 4, dtype=torch.float64)
    h = torch.randn(3, 6, dtype=torch.float64)
    state = (h, h.flip(0)) if name == "LSTMCell" else h
    for args in ((x,), (x, state)):
        a, b = ours(*args), theirs(*args)
        a, b = (a if isinstance(a, tuple) else (a,)), (b if isinstance(b, tuple) else (b,))
        assert all(torch.allclose(u, w) for u, w in zip(a, b))
        ga = torch.autograd.grad(sum(t.sum() for t in a), list(ours.parameters()))
        gb = torch.autograd.grad(sum(t.sum() for t in b), list(theirs.parameters()))
        assert all(torch.allclose(u, w) for u, w in zip(ga, gb))


@pytest.mark.parametrize("cell,builtin", [("rnn", torch.nn.RNN), ("lstm", torch.nn.LSTM), ("gru", torch.nn.GRU)])
def test_rnn_equals_pytorch_multi_step_modules(cell, builtin):
    ours = ref.RNN(3, 5, cell=cell).double()
    theirs = builtin(3, 5, batch_first=True).double()
    theirs.load_state_dict({f"{n}_l0": p for n, p in ours.cell.state_dict().items()})
    x = torch.randn(2, 7, 3, dtype=torch.float64)
    out_a, last_a = ours(x)
    out_b, last_b = theirs(x)
    assert torch.allclose(out_a, out_b)
    last_b = last_b[0][0] if cell == "lstm" else last_b[0]
    assert torch.allclose(last_a[0] if cell == "lstm" else last_a, last_b)


def test_gradient_norms_equal_the_total_derivative_from_autograd():
    model = ref.RNN(3, 5, cell="lstm").double()
    x = torch.randn(2, 6, 3, dtype=torch.float64)
    # dL/dh_t by perturbing h_t through a hook: the gradient of L w.r.t. an additive zero at step t
    deltas = [torch.zeros(2, 5, dtype=torch.float64, requires_grad=True) for _ in range(6)]
    state = None
    for t in range(6):
        state = model.cell(x[:, t], state)
        state = (state[0] + deltas[t], state[1])
    grads = torch.autograd.grad(state[0].sum(), deltas)
    expected = torch.stack([g.norm() for g in grads])
    assert torch.allclose(ref.hidden_state_gradient_norms(model, x), expected)


def test_vanishing_gradient_setup_is_robust_over_ten_seeds():
    x = torch.randn(8, 50, 3, generator=torch.Generator().manual_seed(11), dtype=torch.float64)
    for seed in range(10):
        torch.manual_seed(seed)
        rnn = ref.RNN(3, 16, cell="rnn").double()
        lstm = ref.RNN(3, 16, cell="lstm").double()
        with torch.no_grad():
            lstm.cell.bias_ih[16:32] = 5.0
            lstm.cell.bias_hh[16:32] = 0.0
        n_rnn, n_lstm = ref.hidden_state_gradient_norms(rnn, x), ref.hidden_state_gradient_norms(lstm, x)
        assert n_rnn[0] / n_rnn[-1] < 1e-6
        assert n_lstm[0] / n_lstm[-1] > 1e-2


def test_reference_recalls_the_first_symbol_on_ten_seeds():
    X, y = recall_first(2000, seed=0)
    X_eval, y_eval = recall_first(1000, seed=1)
    model = Build("SequenceClassifier", 4, 32, 4, cell="gru")
    torch.set_num_threads(1)
    accuracies = []
    for seed in range(10):
        torch.manual_seed(seed)
        sd = model.instantiate(ref).state_dict()
        logits = train_sequence_classifier(ref, model=model, state_dict=sd, X=X, y=y, X_eval=X_eval, steps=400, lr=1e-2, seed=seed)["logits"]
        accuracies.append(float((logits.argmax(1) == y_eval).double().mean()))
    assert min(accuracies) >= 0.9, accuracies
