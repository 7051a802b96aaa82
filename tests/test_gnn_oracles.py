"""The gnn reference against PyTorch Geometric (an independent oracle, installed as a test
dependency) and a dense formula, and the facts the three task tests rest on."""

import networkx as nx
import pytest
import torch

from autograder.data.graphs import community_nodes, graph_families, link_split
from autograder.judge.run import reference_for
from autograder.probes import Build
from autograder.probes.gnn import train_graph_classifier, train_link_predictor, train_node_classifier

torch_geometric = pytest.importorskip("torch_geometric", reason="PyTorch Geometric is the oracle here (pip install '.[test]')")
from torch_geometric.nn import GCNConv, SAGEConv  # noqa: E402

ref = reference_for("gnn").module
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


def auc(positive, negative):
    diff = positive[:, None] - negative[None, :]
    return float((diff > 0).double().mean() + 0.5 * (diff == 0).double().mean())


def test_reference_meets_every_task_threshold_on_ten_seeds():
    torch.set_num_threads(1)
    nodes, links = community_nodes(seed=0), link_split(seed=0)
    train, held_out = graph_families(120, seed=0), graph_families(60, seed=1)
    pairs = torch.cat([links["test_pos"], links["test_neg"]], dim=1)
    p = links["test_pos"].shape[1]
    results = {"node": [], "link": [], "graph": []}
    for seed in range(10):
        torch.manual_seed(seed)
        gcn = Build("GCN", 3, 16, 3)
        logits = train_node_classifier(ref, model=gcn, state_dict=gcn.instantiate(ref).state_dict(), x=nodes["x"], edge_index=nodes["edge_index"],
                                       y_train=nodes["y"][nodes["train_mask"]], train_mask=nodes["train_mask"], steps=100, lr=0.01)["logits"]
        test = ~nodes["train_mask"]
        results["node"].append(float((logits.argmax(1)[test] == nodes["y"][test]).double().mean()))
        torch.manual_seed(seed)
        enc = Build("GCN", 16, 32, 16)
        scores = train_link_predictor(ref, model=enc, state_dict=enc.instantiate(ref).state_dict(), x=links["x"],
                                      train_edge_index=links["train_edge_index"], pairs=pairs, steps=200, lr=0.01)["scores"]
        results["link"].append(auc(scores[:p], scores[p:]))
        torch.manual_seed(seed)
        logits = train_graph_classifier(ref, model=Build("GraphClassifier", 1, 32, 3), x=train["x"], edge_index=train["edge_index"], batch=train["batch"],
                                        y=train["y"], eval_x=held_out["x"], eval_edge_index=held_out["edge_index"], eval_batch=held_out["batch"],
                                        steps=150, lr=0.01)["logits"]
        results["graph"].append(float((logits.argmax(1) == held_out["y"]).double().mean()))
    assert min(results["node"]) >= 0.9 and min(results["link"]) >= 0.7 and min(results["graph"]) >= 0.9, results
