"""The gnn reference against PyTorch Geometric (an independent oracle, installed as a test
dependency) and a dense formula, and the facts the three task tests rest on."""

import importlib.util
from pathlib import Path

import networkx as nx
import pytest
import torch

from autograder.course import assignment
from autograder.judge.run import reference_for
from autograder.judge.subject import LocalSubject

torch_geometric = pytest.importorskip("torch_geometric", reason="PyTorch Geometric is the oracle here (pip install '.[test]')")
from torch_geometric.nn import GCNConv, SAGEConv  # noqa: E402

REFERENCE = reference_for("gnn")
ref = REFERENCE.module
GRAPHS = [nx.karate_club_graph(), nx.les_miserables_graph(), nx.gnp_random_graph(30, 0.1, seed=1, directed=True)]


@pytest.mark.parametrize("G", GRAPHS, ids=["karate", "les_miserables", "directed"])
def test_gcn_layer_equals_gcnconv(G):
    edge_index, nodes = ref.edge_index_from_networkx(G)
    ours = ref.GCNLayer(4, 3).double()
    with torch.no_grad():
        ours.bias.uniform_(-1, 1)
    theirs = GCNConv(4, 3).double()
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(len(nodes), 4, dtype=torch.float64, requires_grad=True)
    a, b = ours(x, edge_index), theirs(x, edge_index)
    assert torch.allclose(a, b)
    assert all(torch.allclose(u, w) for u, w in zip(torch.autograd.grad(a.sum(), [x, *ours.parameters()]),
                                                     torch.autograd.grad(b.sum(), [x, *theirs.parameters()])))


@pytest.mark.parametrize("G", GRAPHS, ids=["karate", "les_miserables", "directed"])
def test_sage_layer_equals_sageconv(G):
    edge_index, nodes = ref.edge_index_from_networkx(G)
    ours = ref.SAGELayer(4, 3).double()
    theirs = SAGEConv(4, 3, aggr="mean").double()
    theirs.load_state_dict(ours.state_dict())
    x = torch.randn(len(nodes), 4, dtype=torch.float64)
    assert torch.allclose(ours(x, edge_index), theirs(x, edge_index))


@pytest.mark.parametrize("reduce", ["sum", "mean", "max"])
def test_scatter_equals_a_dense_reference(reduce):
    src = torch.randn(9, 2, dtype=torch.float64)
    index = torch.tensor([0, 0, 3, 3, 3, 5, 0, 5, 3])
    out = ref.scatter(src, index, 7, reduce)
    for node in range(7):
        rows = src[index == node]
        expected = torch.zeros(2, dtype=torch.float64) if len(rows) == 0 else {"sum": rows.sum(0), "mean": rows.mean(0), "max": rows.max(0).values}[reduce]
        assert torch.allclose(out[node], expected)


def _load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The hidden test module's own task functions (same data, probes, budgets and thresholds).
TASKS = _load(assignment("gnn").hidden_tests, "gnn_hidden_tasks")
SUBMISSIONS = Path(__file__).parent / "submissions" / "gnn"


def test_reference_meets_every_task_threshold_on_ten_seeds():
    """The hidden tests' three tasks with the grader's initial weights drawn from seeds 0..9."""
    results = {task: [fn(REFERENCE, init_seed=seed) for seed in range(10)]
               for task, fn in (("node", TASKS.node_accuracy), ("link", TASKS.link_auc), ("graph", TASKS.graph_accuracy))}
    assert min(results["node"]) >= TASKS.NODE_ACCURACY, results
    assert min(results["link"]) >= TASKS.LINK_AUC, results
    assert min(results["graph"]) >= TASKS.GRAPH_ACCURACY, results


def test_another_correct_architecture_meets_the_graph_threshold_on_ten_seeds():
    """A SAGE layer then a GCN layer (the SPEC asks for message-passing layers, not which):
    the budget must not fail a correct student who chose differently from the reference."""
    other = LocalSubject(_load(SUBMISSIONS / "correct_dense.py", "gnn_correct_dense"))
    accuracies = [TASKS.graph_accuracy(other, init_seed=seed) for seed in range(10)]
    assert min(accuracies) >= TASKS.GRAPH_ACCURACY, accuracies


def test_a_model_that_ignores_the_edges_or_the_batch_misses_the_thresholds():
    no_edges = LocalSubject(_load(SUBMISSIONS / "broken_gcn_ignores_edges.py", "gnn_no_edges"))
    no_batch = LocalSubject(_load(SUBMISSIONS / "broken_classifier_ignores_batch.py", "gnn_no_batch"))
    assert TASKS.node_accuracy(no_edges) < TASKS.NODE_ACCURACY
    assert TASKS.link_auc(no_edges) < TASKS.LINK_AUC
    assert TASKS.graph_accuracy(no_batch) < TASKS.GRAPH_ACCURACY
