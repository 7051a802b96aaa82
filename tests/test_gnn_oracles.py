"""The gnn reference and the grader's trusted layers against PyTorch Geometric (an independent
oracle, installed as a test dependency) and a dense formula, and the facts the three task
tests rest on: the graph task's data, and which models meet or miss each threshold
(2 seeds here; `bench/gnn_tasks.py` runs 10)."""

import importlib.util
from pathlib import Path

import networkx as nx
import pytest
import torch
from conftest import ROBUSTNESS_SEEDS

from autograder.checks.base import CheckFailed
from autograder.course import assignment
from autograder.data.graphs import CLUMPS, graph_families
from autograder.judge.run import reference_for
from autograder.judge.subject import LocalSubject
from autograder.worker.probes.gnn import (
    TrustedGCNLayer,
    TrustedSAGELayer,
    seeded_init,
    seeded_weights,
)

REFERENCE = reference_for("gnn")
ref = REFERENCE.module
GRAPHS = [nx.karate_club_graph(), nx.les_miserables_graph(), nx.gnp_random_graph(30, 0.1, seed=1, directed=True)]
IDS = ["karate", "les_miserables", "directed"]
SEEDS = ROBUSTNESS_SEEDS  # two in make test, ten in make experiments


@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """Tiny graphs: extra threads only contend on a busy machine (the probes train on one)."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.fixture(scope="module")
def pyg():
    return pytest.importorskip("torch_geometric.nn", reason="PyTorch Geometric is the oracle here (pip install '.[test]')")


def _same_outputs_and_gradients(ours, theirs, x, edge_index):
    a, b = ours(x, edge_index), theirs(x, edge_index)
    assert torch.allclose(a, b)
    grads = [torch.autograd.grad(m(x, edge_index).sum(), [x, *m.parameters()]) for m in (ours, theirs)]
    assert all(torch.allclose(u, w) for u, w in zip(*grads))


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("G", GRAPHS, ids=IDS)
@pytest.mark.parametrize("ours", [ref.GCNLayer, TrustedGCNLayer], ids=["reference", "trusted"])
def test_gcn_layer_equals_gcnconv(pyg, ours, G, bias):
    edge_index, nodes = ref.edge_index_from_networkx(G)
    layer = ours(4, 3, bias=bias).double()
    if bias:
        with torch.no_grad():
            layer.bias.uniform_(-1, 1)
    theirs = pyg.GCNConv(4, 3, bias=bias).double()
    theirs.load_state_dict(layer.state_dict())
    _same_outputs_and_gradients(layer, theirs, torch.randn(len(nodes), 4, dtype=torch.float64, requires_grad=True), edge_index)


@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("G", GRAPHS, ids=IDS)
@pytest.mark.parametrize("ours", [ref.SAGELayer, TrustedSAGELayer], ids=["reference", "trusted"])
def test_sage_layer_equals_sageconv(pyg, ours, G, bias):
    edge_index, nodes = ref.edge_index_from_networkx(G)
    layer = ours(4, 3, bias=bias).double()
    theirs = pyg.SAGEConv(4, 3, aggr="mean", bias=bias).double()
    theirs.load_state_dict(layer.state_dict())
    _same_outputs_and_gradients(layer, theirs, torch.randn(len(nodes), 4, dtype=torch.float64, requires_grad=True), edge_index)


def test_global_mean_pool_equals_pyg(pyg):
    x, batch = torch.randn(9, 3, dtype=torch.float64), torch.tensor([0, 0, 1, 1, 1, 3, 3, 3, 3])
    theirs = pytest.importorskip("torch_geometric.nn.pool").global_mean_pool
    assert torch.allclose(ref.global_mean_pool(x, batch), theirs(x, batch))
    assert torch.allclose(ref.global_mean_pool(x, batch, 6), theirs(x, batch, 6))


@pytest.mark.parametrize("reduce", ["sum", "mean", "max"])
def test_scatter_equals_a_dense_reference(reduce):
    src = torch.randn(9, 2, dtype=torch.float64)
    index = torch.tensor([0, 0, 3, 3, 3, 5, 0, 5, 3])
    out = ref.scatter(src, index, 7, reduce)
    for node in range(7):
        rows = src[index == node]
        expected = torch.zeros(2, dtype=torch.float64) if len(rows) == 0 else {"sum": rows.sum(0), "mean": rows.mean(0), "max": rows.max(0).values}[reduce]
        assert torch.allclose(out[node], expected)


def test_the_judge_draws_the_same_starting_weights_as_the_worker():
    """The graph task's untrained weights are drawn in the judge from names and shapes alone."""
    model = ref.GraphClassifier(4, 8, 3)
    seeded_init(model, 7)
    drawn = seeded_weights({n: tuple(p.shape) for n, p in model.named_parameters()}, 7)
    assert all(torch.equal(p, drawn[n]) for n, p in model.named_parameters())


# -- the graph task's data ------------------------------------------------------------------------

def _graphs(data: dict) -> list[nx.Graph]:
    out = []
    for g in range(len(data["y"])):
        nodes = (data["batch"] == g).nonzero().flatten()
        G = nx.Graph()
        G.add_nodes_from(nodes.tolist())
        G.add_edges_from(data["edge_index"][:, torch.isin(data["edge_index"][0], nodes)].T.tolist())
        out.append(G)
    return out


def test_graph_families_differ_only_in_how_nodes_connect():
    """Deterministic; every round of three graphs holds one per class, of one size and one degree
    multiset (so the features, or any function of their histogram, tell nothing); the class is
    the number of runs of leaf-carrying cycle nodes; the features are one-hot degrees."""
    a, b = graph_families(30, seed=3), graph_families(30, seed=3)
    assert all(torch.equal(a[key], b[key]) for key in a)
    graphs = _graphs(a)
    for start in range(0, 30, 3):
        assert sorted(a["y"][start:start + 3].tolist()) == [0, 1, 2]
        assert len({tuple(sorted(d for _, d in G.degree())) for G in graphs[start:start + 3]}) == 1
        histograms = {tuple(a["x"][a["batch"] == g].sum(0).tolist()) for g in range(start, start + 3)}
        assert len(histograms) == 1
    for G, label in zip(graphs, a["y"].tolist()):
        assert nx.is_connected(G)
        hubs = [v for v in G if G.degree(v) == 3]
        assert nx.number_connected_components(G.subgraph(hubs)) == CLUMPS[label]
        degrees = torch.tensor([G.degree(v) for v in sorted(G)])
        assert torch.equal(a["x"][sorted(G)].argmax(1), degrees.clamp(max=3))


# -- the three tasks: who meets the thresholds ----------------------------------------------------

def _load(path, name):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# The hidden test module's own task functions (same data, probes, budgets and thresholds).
TASKS = _load(assignment("gnn").hidden_tests, "gnn_hidden_tasks")
SUBMISSIONS = Path(__file__).parent / "submissions" / "gnn"


def _subject(stem: str) -> LocalSubject:
    return LocalSubject(_load(SUBMISSIONS / f"{stem}.py", f"gnn_oracle_{stem}"))


def test_reference_meets_the_node_and_link_thresholds():
    """Both evaluations (on the reference GCN and with the reference's own forward) on every seed."""
    for seed in SEEDS:
        assert TASKS.node_accuracy(REFERENCE, init_seed=seed)[0] >= TASKS.NODE_ACCURACY
        assert TASKS.link_auc(REFERENCE, init_seed=seed)[0] >= TASKS.LINK_AUC


@pytest.mark.parametrize("stem", ["reference", "correct_import_time_bindings", "correct_dense", "correct_mixed_sparse", "correct_jumping_knowledge"],
                         ids=["GCN-GCN", "SAGE-SAGE", "SAGE-GCN", "GCN-residual SAGE-GCN", "GCN-SAGE-SAGE mixed per layer"])
def test_every_layer_mix_meets_the_graph_threshold(stem):
    """GCN-only, SAGE-only and mixed classifiers (SPEC leaves the choice open) learn the graph task,
    and score far lower with untrained weights."""
    subject = REFERENCE if stem == "reference" else _subject(stem)
    for seed in SEEDS:
        scores = TASKS.graph_accuracy(subject, init_seed=seed)
        assert scores.trained >= TASKS.GRAPH_ACCURACY, (stem, seed, scores)
        assert scores.relabelled == scores.trained, (stem, seed, scores)  # the read-out's classes reordered: the predictions follow
        assert scores.untrained <= TASKS.UNTRAINED_GRAPH_ACCURACY, (stem, seed, scores)


def test_a_classifier_that_ignores_its_trained_weights_does_not_follow_its_read_out():
    """A forward that switches to a hand-written rule for trained weights (a read-out bias not zero, unlike the untrained
    controls') is right as trained and passes the untrained control; with its read-out's classes reordered it is wrong."""
    forged = LocalSubject(_load(Path(__file__).parent / "malformed" / "gnn_classifier_rule_for_trained_weights.py", "gnn_oracle_rule"))
    scores = TASKS.graph_accuracy(forged)
    assert scores.trained >= TASKS.GRAPH_ACCURACY and scores.untrained <= TASKS.UNTRAINED_GRAPH_ACCURACY, scores
    assert scores.relabelled < TASKS.GRAPH_ACCURACY, scores


def test_the_read_out_search_is_bounded():
    """Every parameter dimension of the class count costs the search a copy of the weights and a
    prediction: a classifier with more than it looks among fails at once, the judge bounded."""
    flood = LocalSubject(_load(Path(__file__).parent / "malformed" / "gnn_floods_the_readout_search.py", "gnn_oracle_flood"))
    with pytest.raises(CheckFailed, match="82 parameter dimensions of the class count"):
        TASKS.graph_accuracy(flood)


def test_models_that_ignore_the_edges_or_the_batch_miss_the_thresholds():
    no_edges = _subject("broken_gcn_ignores_edges")
    assert TASKS.node_accuracy(no_edges, evaluator=REFERENCE)[0] < TASKS.NODE_ACCURACY
    assert TASKS.link_auc(no_edges, evaluator=REFERENCE)[0] < TASKS.LINK_AUC
    for stem in ("broken_classifier_ignores_batch", "broken_classifier_ignores_edges"):
        assert TASKS.graph_accuracy(_subject(stem)).trained < TASKS.GRAPH_ACCURACY, stem
