"""Public tests of the gnn assignment — run them with `nnzoo test gnn`.

Small known values and shapes; the hidden tests compare with PyTorch Geometric's layers
and check equivariance, locality, edge direction and the three task types.
"""

import networkx as nx
import pytest
import torch

from autograder import checks
from autograder.worker.probes import Build


@pytest.mark.points(1)
@pytest.mark.property("graph conversion")
def test_path_graph_edges_in_both_directions(submission):
    """The undirected path 0 - 1 - 2 gives the 4 directed edges 0→1, 1→0, 1→2, 2→1."""
    out = submission.run("run", call="edge_index_from_networkx", args=(nx.path_graph(3),), backward=False)["output"]
    edge_index = checks.expect_tensor(out[0], "edge_index", "graph conversion", shape=(2, 4), dtype=torch.long, hint="both directions")
    if sorted(map(tuple, edge_index.T.tolist())) != [(0, 1), (1, 0), (1, 2), (2, 1)]:
        checks.base.fail("graph conversion", "the edges of the path 0 - 1 - 2 are wrong", "an undirected edge becomes two directed ones")


@pytest.mark.points(1)
@pytest.mark.property("degree")
def test_degree_known_values(submission):
    """degree([0, 2, 2], 4) == [1, 0, 2, 0]."""
    out = submission.run("run", call="degree", args=(torch.tensor([0, 2, 2]), 4), backward=False)["output"]
    checks.expect_close(out, torch.tensor([1.0, 0.0, 2.0, 0.0]), "degree([0, 2, 2], 4)", "degree", hint="count occurrences, as floats")


@pytest.mark.points(1)
@pytest.mark.property("scatter")
def test_scatter_known_values(submission):
    """scatter of [1, 2, 5] to nodes [0, 0, 2] of 3: sum [3, 0, 5], mean [1.5, 0, 5], max [2, 0, 5]."""
    src, index = torch.tensor([1.0, 2.0, 5.0]), torch.tensor([0, 0, 2])
    for reduce, expected in (("sum", [3.0, 0.0, 5.0]), ("mean", [1.5, 0.0, 5.0]), ("max", [2.0, 0.0, 5.0])):
        out = submission.run("run", call="scatter", args=(src, index, 3, reduce), backward=False)["output"]
        checks.expect_close(out, torch.tensor(expected), f"scatter(..., {reduce!r})", "scatter", hint="nodes that receive nothing get 0")


@pytest.mark.points(1)
@pytest.mark.property("equality with GCNConv")
def test_gcn_layer_on_two_isolated_nodes(submission):
    """With no edges, GCNLayer is lin(x) + bias (each node only has its self loop)."""
    result = submission.run("run", model=Build("GCNLayer", 2, 3), args=(torch.eye(2), torch.zeros(2, 0, dtype=torch.long)), backward=False)
    out = checks.expect_tensor(result["output"], "the output", "equality with GCNConv", shape=(2, 3), hint="add self loops first")
    sd = submission.run("state_dict", model=Build("GCNLayer", 2, 3))["state_dict"]
    checks.expect_close(out, sd["lin.weight"].T + sd["bias"], "the output without edges", "equality with GCNConv",
                        hint="a node with only its self loop has degree 1: its output is x W^T + b")


@pytest.mark.points(1)
@pytest.mark.property("pooling")
def test_global_mean_pool_known_values(submission):
    """Nodes [1, 3 | 5] in graphs [0, 0 | 1] pool to [2 | 5]."""
    out = submission.run("run", call="global_mean_pool", args=(torch.tensor([[1.0], [3.0], [5.0]]), torch.tensor([0, 0, 1])), backward=False)["output"]
    checks.expect_close(out, torch.tensor([[2.0], [5.0]]), "the pooled features", "pooling", hint="the mean of each graph's nodes")


@pytest.mark.points(1)
@pytest.mark.property("graph batches")
def test_graph_classifier_output_shape(submission):
    """GraphClassifier(1, 8, 3) gives one row of logits per graph."""
    x, edge_index, batch = torch.ones(5, 1), torch.tensor([[0, 1, 3], [1, 2, 4]]), torch.tensor([0, 0, 0, 1, 1])
    out = submission.run("run", model=Build("GraphClassifier", 1, 8, 3), args=(x, edge_index, batch), backward=False)["output"]
    checks.expect_tensor(out, "the logits", "graph batches", shape=(2, 3), hint="pool per graph, then read out")
