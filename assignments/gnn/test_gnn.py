"""Public tests of the gnn assignment — run them with `nnzoo test gnn` (or `pytest`).

Small graphs with values worked out by hand, in the order you write the pieces: the first
test that fails names the piece to fix.  The hidden tests check the same properties on
more graphs (against PyTorch Geometric), and train your models on the three tasks.
"""

import math

import networkx as nx
import pytest
import torch

from autograder import checks
from autograder.checks.base import fail
from autograder.checks.graphs import local
from autograder.data.graphs import graph_families
from autograder.worker.probes import Build

F64 = torch.float64
# 0 — 1 — 2 ← 3   4: an undirected path, one directed edge 3 → 2, an isolated node 4
EDGES = torch.tensor([[0, 1, 1, 2, 3], [1, 0, 2, 1, 2]])
X = torch.tensor([[1.0], [2.0], [3.0], [4.0], [5.0]], dtype=F64)
REPEATED, X3 = torch.tensor([[0, 0, 2], [1, 1, 1]]), torch.tensor([[1.0], [2.0], [4.0]], dtype=F64)  # 0 → 1 twice, 2 → 1
REPEATED_HINT = "an edge listed twice is two edges (as in PyG): it sends two messages and counts twice in a degree or a mean"


def output(submission, prop: str, hint: str, **request) -> torch.Tensor:
    return checks.expect_tensor(submission.run("run", backward=False, **request)["output"], "the output", prop, hint=hint)


# -- primitives ------------------------------------------------------------------------------

@pytest.mark.timeout(10)
@pytest.mark.points(1)
@pytest.mark.property("graph conversion")
def test_path_graph_edges_in_both_directions(submission):
    """The undirected path 0 - 1 - 2 gives the 4 directed edges 0→1, 1→0, 1→2, 2→1; 3 nodes without edges give shape (2, 0);
    an edge of weight 0 is an edge; a directed graph's edges 0 → 1 → 2 stay as given (a MultiDiGraph's too); a MultiGraph's two
    parallel edges 0 - 1 are two edges each way."""
    out = submission.run("run", call="edge_index_from_networkx", args=(nx.path_graph(3),), backward=False)["output"]
    edge_index = checks.expect_tensor(out[0], "edge_index", "graph conversion", shape=(2, 4), dtype=torch.long, hint="both directions")
    if sorted(map(tuple, edge_index.T.tolist())) != [(0, 1), (1, 0), (1, 2), (2, 1)]:
        fail("graph conversion", "the edges of the path 0 - 1 - 2 are wrong", "an undirected edge becomes two directed ones")
    out = submission.run("run", call="edge_index_from_networkx", args=(nx.empty_graph(3),), backward=False)["output"]
    checks.expect_tensor(out[0], "edge_index of 3 nodes and no edge", "graph conversion", shape=(2, 0), dtype=torch.long,
                         hint="a graph without edges still has an edge_index of shape (2, 0)")
    weighted = nx.Graph([(0, 1, {"weight": 0.0}), (1, 2, {"weight": 2.5})])
    out = submission.run("run", call="edge_index_from_networkx", args=(weighted,), backward=False)["output"]
    checks.expect_tensor(out[0], "edge_index of the path 0 - 1 - 2 whose edge 0 - 1 has weight 0", "graph conversion", shape=(2, 4),
                         dtype=torch.long, hint="every edge of G.edges() counts, whatever its weight (an adjacency matrix loses a weight of 0)")
    for directed in (nx.DiGraph([(0, 1), (1, 2)]), nx.MultiDiGraph([(0, 1), (1, 2)])):
        out = submission.run("run", call="edge_index_from_networkx", args=(directed,), backward=False)["output"]
        edge_index = checks.expect_tensor(out[0], f"edge_index of the {type(directed).__name__} 0 → 1 → 2", "graph conversion", shape=(2, 2),
                                          dtype=torch.long, hint="a directed graph's edges stay as given (ask G.is_directed())")
        if sorted(map(tuple, edge_index.T.tolist())) != [(0, 1), (1, 2)]:
            fail("graph conversion", f"the edges of the {type(directed).__name__} 0 → 1 → 2 are wrong", "a directed edge u → v stays u → v")
    out = submission.run("run", call="edge_index_from_networkx", args=(nx.MultiGraph([(0, 1), (0, 1)]),), backward=False)["output"]
    edge_index = checks.expect_tensor(out[0], "edge_index of a MultiGraph with two parallel edges 0 - 1", "graph conversion",
                                      dtype=torch.long, hint="each edge of G.edges() counts, a parallel one as often as it is there")
    if sorted(map(tuple, edge_index.T.tolist())) != [(0, 1), (0, 1), (1, 0), (1, 0)]:
        fail("graph conversion", "the two parallel edges 0 - 1 of a MultiGraph should give 0 → 1 twice and 1 → 0 twice",
             "each edge of G.edges() counts, a parallel one as often as it is there (a set of pairs merges them)")


@pytest.mark.timeout(10)
@pytest.mark.points(1)
@pytest.mark.property("self loops")
def test_add_self_loops_known_values(submission):
    """add_self_loops([[0, 1], [1, 1]], 3) keeps both edges and adds (0, 0) and (2, 2) — node 1 already has its loop;
    with the edge 0 → 1 given twice, both copies stay."""
    for edge_index, expected in (([[0, 1], [1, 1]], [(0, 0), (0, 1), (1, 1), (2, 2)]),
                                 ([[0, 0, 1], [1, 1, 1]], [(0, 0), (0, 1), (0, 1), (1, 1), (2, 2)])):
        out = submission.run("run", call="add_self_loops", args=(torch.tensor(edge_index), 3), backward=False)["output"]
        out = checks.expect_tensor(out, "the result", "self loops", dtype=torch.long, hint="a LongTensor (2, E')")
        if out.dim() != 2 or out.shape[0] != 2 or sorted(map(tuple, out.T.tolist())) != expected:
            fail("self loops", f"the edges with self loops added to {edge_index} are wrong",
                 "append (i, i) only for the nodes that have no loop yet, and keep every given edge, as often as it is given")


@pytest.mark.timeout(10)
@pytest.mark.points(1)
@pytest.mark.property("degree")
def test_degree_known_values(submission):
    """degree([0, 2, 2], 4) == [1, 0, 2, 0]."""
    out = submission.run("run", call="degree", args=(torch.tensor([0, 2, 2]), 4), backward=False)["output"]
    checks.expect_close(out, torch.tensor([1.0, 0.0, 2.0, 0.0]), "degree([0, 2, 2], 4)", "degree", hint="count occurrences, as floats")


@pytest.mark.timeout(10)
@pytest.mark.points(1)
@pytest.mark.property("scatter")
def test_scatter_known_values(submission):
    """scatter of [1, 2, 5] to nodes [0, 0, 2] of 3: sum (the default) [3, 0, 5], mean [1.5, 0, 5], max [2, 0, 5]; float64 stays float64."""
    src, index = torch.tensor([1.0, 2.0, 5.0], dtype=F64), torch.tensor([0, 0, 2])
    for reduce, expected in ((None, [3.0, 0.0, 5.0]), ("sum", [3.0, 0.0, 5.0]), ("mean", [1.5, 0.0, 5.0]), ("max", [2.0, 0.0, 5.0])):
        args = (src, index, 3) if reduce is None else (src, index, 3, reduce)
        out = submission.run("run", call="scatter", args=args, backward=False)["output"]
        what = "scatter(src, index, 3)" if reduce is None else f"scatter(..., {reduce!r})"
        checks.expect_close(out, torch.tensor(expected, dtype=F64), what, "scatter",
                            hint="reduce defaults to \"sum\"; nodes that receive nothing get 0; the result has src's dtype")


@pytest.mark.timeout(10)
@pytest.mark.points(1)
@pytest.mark.property("message passing")
def test_propagate_calls_the_hooks(submission):
    """On 0 → 1, 2 → 1, 1 → 0 with x = [1, 2, 4]: a subclass's message(x_j, x_i, weight), aggregate(messages, index, num_nodes)
    and update(aggr_out, x) are each what propagate uses."""
    x, edge_index, weight = torch.tensor([[1.0], [2.0], [4.0]], dtype=F64), torch.tensor([[0, 2, 1], [1, 1, 0]]), torch.tensor([1.0, 2.0, 3.0], dtype=F64)
    expected = {
        # message 10 x_i + weight x_j, summed at the target: node 1 gets (20 + 1) + (20 + 8), node 0 gets 10 + 6, node 2 nothing
        "message": [[16.0], [49.0], [0.0]],
        # aggregate = sum of the squared messages (x_j) + 1: node 0 gets 2² + 1, node 1 gets 1² + 4² + 1, node 2 gets 0 + 1
        "aggregate": [[5.0], [18.0], [1.0]],
        # update = aggr_out - 2 x, with aggr_out the sum of x_j: [2, 5, 0] - 2 [1, 2, 4]
        "update": [[0.0], [1.0], [-8.0]],
    }
    hints = {"message": "call self.message(x_i=x[edge_index[1]], x_j=x[edge_index[0]], **kwargs) — by keyword: a layer's message may "
                        "list its arguments in any order",
             "aggregate": "combine the messages with self.aggregate(messages, index=edge_index[1], num_nodes=x.shape[0])",
             "update": "return self.update(aggr_out, x)"}
    for hook, values in expected.items():
        request = dict(hook=hook, aggr="sum", x=x, edge_index=edge_index, weight=weight if hook == "message" else None)
        checks.expect_close(submission.run("message_passing", **request)["output"], torch.tensor(values, dtype=F64),
                            f"propagate of a subclass that overrides {hook}", "message passing", hint=hints[hook])


# -- layers ------------------------------------------------------------------------------------

def _without_bias(submission, layer: str, weights: dict, expected: torch.Tensor, prop: str) -> None:
    """`layer(1, 1, bias=False)` has exactly the parameters in `weights` and adds no bias."""
    hint = "bias=False means no bias parameter at all (as in PyTorch Geometric), and nothing added"
    names = set(submission.run("state_dict", model=Build(layer, 1, 1, bias=False))["param_shapes"])
    if names != set(weights):
        fail(prop, f"{layer}(1, 1, bias=False) has the parameters {sorted(names)}, expected {sorted(weights)}", hint)
    out = output(submission, prop, hint, model=Build(layer, 1, 1, bias=False), state_dict=weights, dtype=F64, args=(X, EDGES))
    checks.expect_close(out, expected, f"{layer}(1, 1, bias=False)'s output", prop, hint=hint)


@pytest.mark.timeout(10)
@pytest.mark.points(1)
@pytest.mark.property("equality with GCNConv")
def test_gcn_layer_known_values(submission):
    """W = 2, b = 0.5 on 0 — 1 — 2 ← 3, 4: degrees with self loops (at the target) 2, 3, 3, 1, 1, messages x_j W / sqrt(d_j d_i);
    bias=False has no bias; on 0 — 1 where 1 has its loop already, no second loop (degrees 2, 2); the same after the layer
    ran on another graph; 0 → 1 listed twice and 2 → 1 (degree of node 1: 4)."""
    prop, hint = "equality with GCNConv", ("self loops first (only for nodes without one); the degree of each TARGET; the symmetric weight "
                                           "1/sqrt(d_j d_i); then the bias")
    s6, s3 = math.sqrt(6), math.sqrt(3)
    expected = torch.tensor([[1 / 2 + 2 / s6], [1 / s6 + 2 / 3 + 3 / 3], [2 / 3 + 3 / 3 + 4 / s3], [4.0], [5.0]], dtype=F64) * 2 + 0.5
    weights = {"lin.weight": torch.tensor([[2.0]], dtype=F64), "bias": torch.tensor([0.5], dtype=F64)}
    out = output(submission, prop, hint, model=Build("GCNLayer", 1, 1), state_dict=weights, dtype=F64, args=(X, EDGES))
    checks.expect_close(out, expected, "GCNLayer's output", prop, hint=hint)
    out = output(submission, prop, hint, model=Build("GCNLayer", 1, 1), state_dict=weights, dtype=F64, args=(X, EDGES), inference=True)
    checks.expect_close(out, expected, "GCNLayer's output in eval mode under torch.no_grad() (as a trained model predicts)", prop, hint=hint)
    reused = Build("autograder.worker.probes.gnn:AfterAnotherGraph", Build("GCNLayer", 1, 1))  # a path of 3 nodes and these numbered backwards first
    out = output(submission, prop, hint, model=reused, state_dict={f"layer.{n}": w for n, w in weights.items()}, dtype=F64, args=(X, EDGES))
    checks.expect_close(out, expected, "GCNLayer's output after the same layer ran on other graphs (one of as many nodes and edges)", prop,
                        hint="one layer serves every graph: compute the self loops, degrees and normalisation from each call's edge_index, keep none")
    _without_bias(submission, "GCNLayer", {"lin.weight": weights["lin.weight"]}, expected - 0.5, prop)
    looped = torch.tensor([[0, 1, 1], [1, 0, 1]])  # 0 — 1, and 1 → 1
    out = output(submission, prop, hint, model=Build("GCNLayer", 1, 1), state_dict={"lin.weight": torch.tensor([[1.0]], dtype=F64),
                 "bias": torch.tensor([0.0], dtype=F64)}, dtype=F64, args=(torch.tensor([[1.0], [2.0]], dtype=F64), looped))
    checks.expect_close(out, torch.tensor([[1.5], [1.5]], dtype=F64), "GCNLayer's output where node 1 has its self loop already", prop,
                        hint=hint)
    out = output(submission, prop, hint, model=Build("GCNLayer", 1, 1), state_dict={"lin.weight": torch.tensor([[1.0]], dtype=F64),
                 "bias": torch.tensor([0.0], dtype=F64)}, dtype=F64, args=(X3, REPEATED))
    checks.expect_close(out, torch.tensor([[1.0], [3.5], [4.0]], dtype=F64), "GCNLayer's output where 0 → 1 is listed twice", prop,
                        hint=REPEATED_HINT)


@pytest.mark.timeout(10)
@pytest.mark.points(1)
@pytest.mark.property("equality with SAGEConv")
def test_sage_layer_known_values(submission):
    """lin_l = 1 (bias 0.5), lin_r = 3 on 0 — 1 — 2 ← 3, 4: mean of the incoming neighbours + 0.5 + 3 x; nodes 3 and 4 receive
    nothing (mean 0); bias=False has no lin_l.bias; 0 → 1 listed twice and 2 → 1: node 1's mean is (1 + 1 + 4) / 3."""
    prop, hint = "equality with SAGEConv", "lin_l(mean of the INCOMING neighbours) + lin_r(x); a node that receives nothing has mean 0 (not 0/0)"
    expected = torch.tensor([[2.0], [2.0], [3.0], [0.0], [0.0]], dtype=F64) + 0.5 + 3 * X
    weights = {"lin_l.weight": torch.tensor([[1.0]], dtype=F64), "lin_l.bias": torch.tensor([0.5], dtype=F64),
               "lin_r.weight": torch.tensor([[3.0]], dtype=F64)}
    out = output(submission, prop, hint, model=Build("SAGELayer", 1, 1), state_dict=weights, dtype=F64, args=(X, EDGES))
    checks.expect_close(out, expected, "SAGELayer's output", prop, hint=hint)
    out = output(submission, prop, hint, model=Build("SAGELayer", 1, 1), state_dict=weights, dtype=F64, args=(X, EDGES), inference=True)
    checks.expect_close(out, expected, "SAGELayer's output in eval mode under torch.no_grad() (as a trained model predicts)", prop, hint=hint)
    _without_bias(submission, "SAGELayer", {k: v for k, v in weights.items() if k != "lin_l.bias"}, expected - 0.5, prop)
    out = output(submission, prop, hint, model=Build("SAGELayer", 1, 1), state_dict=weights, dtype=F64, args=(X3, REPEATED))
    checks.expect_close(out, torch.tensor([[0.0], [2.0], [0.0]], dtype=F64) + 0.5 + 3 * X3, "SAGELayer's output where 0 → 1 is listed twice",
                        prop, hint=REPEATED_HINT)


@pytest.mark.timeout(10)
@pytest.mark.points(1)
@pytest.mark.property("layer stacking")
def test_gcn_has_num_layers_layers(submission):
    """GCN(2, 3, 4, num_layers=k) keeps k GCN layers 2 → 3 → … → 4 in `layers`, each with its own weights, for k = 1 to 4;
    the same input gives the same output on every call (no dropout: ReLU between layers and nothing else); edges keep their direction."""
    for k in (1, 2, 3, 4):
        sizes = [2] + [3] * (k - 1) + [4]
        expected = {}
        for i in range(k):
            expected |= {f"layers.{i}.lin.weight": (sizes[i + 1], sizes[i]), f"layers.{i}.bias": (sizes[i + 1],)}
        checks.parameters_like(submission, Build("GCN", 2, 3, 4, num_layers=k), expected, prop="layer stacking",
                               hint="layers = [GCNLayer(in, hidden), …, GCNLayer(hidden, out)]: num_layers of them, each "
                                    "built on its own ([layer] * n holds one layer n times)")
    x = torch.randn(5, 2, dtype=F64, generator=torch.Generator().manual_seed(0))
    first, second = (output(submission, "layer stacking", "", model=Build("GCN", 2, 3, 4), dtype=F64, args=(x, EDGES), calls_before=n)
                     for n in (0, 1))
    if not torch.allclose(first, second):
        fail("layer stacking", "GCN's second call on the same input gave another output (dropout in training mode?)",
             "ReLU between the layers and nothing else: the same input gives the same output")
    changed = x.clone()
    changed[2] += 3.0  # EDGES has 3 → 2 only: nothing reaches node 3, in any number of hops
    moved = output(submission, "layer stacking", "", model=Build("GCN", 2, 3, 4), dtype=F64, args=(changed, EDGES))
    if moved.shape != (5, 4) or first.shape != (5, 4):
        fail("layer stacking", f"GCN(2, 3, 4) on 5 nodes should give an output of shape (5, 4), got {tuple(moved.shape)}",
             "one row of 4 features per node")
    if not torch.allclose(moved[3], first[3]):
        fail("layer stacking", "GCN's node 3 changed when only node 2 changed, though EDGES has the edge 3 → 2 and none 2 → 3",
             "pass edge_index to every layer as it is: messages flow from edge_index[0] to edge_index[1] (no flip, no reversed copies)")


@pytest.mark.timeout(10)
@pytest.mark.points(1)
@pytest.mark.property("locality")
def test_two_layers_see_two_hops(submission):
    """On a path, node 0 of a 2-layer GCN sees node 2 and ignores nodes 3 and beyond."""
    local(submission, model=Build("GCN", 3, 8, 2, num_layers=2), hops=2, prop="locality",
          hint="pass edge_index to every layer: each layer takes one hop along the edges")


# -- pooling, scores, graph classifier -----------------------------------------------------------

@pytest.mark.timeout(10)
@pytest.mark.points(1)
@pytest.mark.property("pooling")
def test_global_mean_pool_known_values(submission):
    """Nodes [1, 3 | 5] in graphs [0, 0 | 1] pool to [2 | 5]; with num_graphs=3 a third, empty graph gets 0; all three in
    graph 0 with num_graphs=2 pool to [3 | 0]."""
    x, batch = torch.tensor([[1.0], [3.0], [5.0]], dtype=F64), torch.tensor([0, 0, 1])
    one_graph = torch.zeros(3, dtype=torch.long)
    for args, expected in (((x, batch), [[2.0], [5.0]]), ((x, batch, 3), [[2.0], [5.0], [0.0]]), ((x, one_graph, 2), [[3.0], [0.0]])):
        out = submission.run("run", call="global_mean_pool", args=args, backward=False)["output"]
        checks.expect_close(out, torch.tensor(expected, dtype=F64), f"the pooled features of {len(expected)} graphs", "pooling",
                            hint="the mean of each graph's nodes (batch[i] is node i's graph); num_graphs rows when it is given")


@pytest.mark.timeout(10)
@pytest.mark.points(1)
@pytest.mark.property("link scores")
def test_link_scores_known_values(submission):
    """With z = I (3×3): pairs (0, 0), (1, 2) score [1, 0]; the single pair (2, 2) gives [1] — shape (1,)."""
    z = torch.eye(3, dtype=F64)
    for pairs, expected in ((torch.tensor([[0, 1], [0, 2]]), [1.0, 0.0]), (torch.tensor([[2], [2]]), [1.0])):
        out = submission.run("run", call="link_scores", args=(z, pairs), backward=False)["output"]
        checks.expect_close(out, torch.tensor(expected, dtype=F64), f"the scores of {len(expected)} pair(s)", "link scores",
                            hint="one dot product per pair: shape (P,), also for P = 1")


def _logits(submission, model: Build, weights: dict, graphs: int, prop: str, hint: str, *args) -> torch.Tensor:
    out = submission.run("predict", model=model, state_dict=weights, args=args, dtype=F64)["output"]
    return checks.expect_tensor(out, f"the logits of {graphs} graph(s)", prop, shape=(graphs, 3), hint=hint)


@pytest.mark.timeout(20)
@pytest.mark.points(1)
@pytest.mark.property("graph batches")
def test_graph_classifier_respects_batch(submission):
    """GraphClassifier(4, 8, 3): two graphs batched together get the same logits as each alone ((1, 3) for one graph), as
    two disjoint copies of itself, and given as one graph the node-weighted mean of their logits (a mean pool, then a linear
    read-out); the logits follow the features."""
    prop, hint = "graph batches", "pool per graph with the batch vector; one graph's nodes must not leak into another's logits"
    model = Build("GraphClassifier", 4, 8, 3)
    weights = submission.run("state_dict", model=model, dtype=F64)["state_dict"]
    x = torch.eye(4, dtype=F64)[[2, 2, 3, 1, 1, 2, 1]] + 0.1 * torch.arange(7, dtype=F64)[:, None]
    edge_index = torch.tensor([[0, 1, 1, 2, 2, 0, 2, 3, 4, 5, 5, 6], [1, 0, 2, 1, 0, 2, 3, 2, 5, 4, 6, 5]])  # triangle + leaf | path
    batch = torch.tensor([0, 0, 0, 0, 1, 1, 1])
    together = _logits(submission, model, weights, 2, prop, hint, x, edge_index, batch)
    for g, (nodes, edges) in enumerate((([0, 1, 2, 3], edge_index[:, :8]), ([4, 5, 6], edge_index[:, 8:] - 4))):
        alone = _logits(submission, model, weights, 1, prop, hint, x[nodes], edges, torch.zeros(len(nodes), dtype=torch.long))
        checks.expect_close(alone, together[g:g + 1], f"graph {g}'s logits when it is alone", prop, hint=hint)
    twice = _logits(submission, model, weights, 1, prop, hint, torch.cat([x[4:], x[4:]]), torch.cat([edges, edges + 3], 1),
                    torch.zeros(6, dtype=torch.long))
    checks.expect_close(twice, together[1:], "graph 1's logits as two disjoint copies of itself (one graph)", prop,
                        hint="the read-out sees the MEAN of a graph's node vectors (global_mean_pool): a copy of every node changes no mean")
    as_one = _logits(submission, model, weights, 1, prop, hint, x, edge_index, torch.zeros(7, dtype=torch.long))
    mixed = (4 * together[:1] + 3 * together[1:]) / 7
    checks.expect_close(as_one - as_one.mean(), mixed - mixed.mean(), "the logits of both graphs given as one graph (less their mean: "
                        "log-probabilities are logits too)", prop,
                        hint="the read-out sees the MEAN of a graph's node vectors (global_mean_pool), then a linear layer: the mean "
                             "over two graphs' nodes weighs each graph by its size")
    if torch.equal(_logits(submission, model, weights, 2, prop, hint, x + 1.0, edge_index, batch), together):
        fail(prop, "the logits stay the same when every node feature changes", "compute the logits from the node features, through your layers")


@pytest.mark.timeout(20)
@pytest.mark.points(1)
@pytest.mark.property("graph classification")
def test_graph_classifier_uses_the_edges(submission):
    """Three graphs with the same size and the same degrees, wired differently, get different logits (with your initial weights)."""
    prop = "graph classification"
    hint = "pass edge_index to your layers: here only the wiring tells the graphs apart (the features are the same multiset)"
    data = graph_families(3, seed=11)
    model = Build("GraphClassifier", 4, 8, 3)
    weights = submission.run("state_dict", model=model, dtype=F64)["state_dict"]
    logits = _logits(submission, model, weights, 3, prop, hint, data["x"].double(), data["edge_index"], data["batch"])
    if torch.allclose(logits[0], logits[1]) or torch.allclose(logits[1], logits[2]) or torch.allclose(logits[0], logits[2]):
        fail(prop, "two graphs that differ only in their edges get the same logits", hint)
