"""Hidden tests of the gnn assignment (instructor-only).

Every test grades one piece and swaps the pieces below it for trusted ones (`patch=`), so
a broken piece costs its own points once: the layer tests run on `TRUSTED_PRIMITIVES`
(scatter, degree, self loops), the model and task tests run the student's `GCN` /
`GraphClassifier` on `TRUSTED_BLOCKS` (trusted primitives, layers, pooling and scores).
The task tests train the student's models with the grader's own loops and seeded weights.
"""

from collections import Counter

import networkx as nx
import pytest
import torch

from autograder import checks
from autograder.checks.graphs import local, node_permutation_equivariant
from autograder.data.graphs import community_nodes, graph_families, link_split
from autograder.worker.probes import Build
from autograder.worker.probes.gnn import TRUSTED_BLOCKS, TRUSTED_PRIMITIVES

FORBIDDEN = ("torch_geometric", "torch_scatter", "torch_sparse")


def randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def both_ways(pairs):
    return torch.tensor(pairs + [(v, u) for u, v in pairs], dtype=torch.long).T


KARATE = both_ways(list(nx.karate_club_graph().edges()))
ISOLATED = both_ways([(0, 1), (1, 2), (4, 5)])  # node 3 and 6 have no edge
DIRECTED = torch.tensor([[0, 1, 2, 3], [1, 2, 0, 0]])  # 5 nodes: 3 receives nothing, 4 has no edge
NO_EDGES = torch.zeros(2, 0, dtype=torch.long)
LAYERS = ("GCNLayer", "SAGELayer")


# -- primitives ------------------------------------------------------------------------------

@pytest.mark.points(1)
@pytest.mark.property("graph conversion")
@pytest.mark.forbid(*FORBIDDEN)
def test_edge_index_from_networkx(submission):
    """Undirected edges in both directions, directed as given, a self loop once, nodes = list(G.nodes)."""
    prop, hint = "graph conversion", "position of each node in list(G.nodes); undirected edges both ways, self loops once"
    directed = nx.DiGraph([("a", "b"), ("b", "c"), ("c", "a")])
    looped = nx.Graph([(3, 1), (1, 1), (1, 2)])
    for G in (nx.karate_club_graph(), directed, looped):
        out = submission.run("run", call="edge_index_from_networkx", args=(G,), backward=False)["output"]
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            checks.base.fail(prop, "edge_index_from_networkx should return (edge_index, nodes)", hint)
        edge_index = checks.expect_tensor(out[0], "edge_index", prop, dtype=torch.long, hint=hint)
        nodes = list(out[1])
        if nodes != list(G.nodes):
            checks.base.fail(prop, "`nodes` should be list(G.nodes), in that order", hint)
        if edge_index.dim() != 2 or edge_index.shape[0] != 2:
            checks.base.fail(prop, f"edge_index should have shape (2, E), got {tuple(edge_index.shape)}", hint)
        got = Counter((nodes[s], nodes[t]) for s, t in edge_index.T.tolist())
        expected = Counter()
        for u, v in G.edges():
            expected[(u, v)] += 1
            if not G.is_directed() and u != v:
                expected[(v, u)] += 1
        if got != expected:
            checks.base.fail(prop, f"the edges differ from the graph's ({'directed' if G.is_directed() else 'undirected'} graph)", hint)


@pytest.mark.points(1)
@pytest.mark.property("self loops")
@pytest.mark.forbid(*FORBIDDEN)
def test_add_self_loops(submission):
    """Adds exactly one loop to every node without one, and keeps every edge."""
    prop, hint = "self loops", "append (i, i) for every node i that has no loop yet; keep the existing edges"
    edge_index = torch.tensor([[0, 1, 2, 2], [1, 0, 2, 0]])
    out = submission.run("run", call="add_self_loops", args=(edge_index, 5), backward=False)["output"]
    out = checks.expect_tensor(out, "the result", prop, dtype=torch.long, hint=hint)
    expected = Counter(map(tuple, edge_index.T.tolist())) + Counter([(0, 0), (1, 1), (3, 3), (4, 4)])
    if out.dim() != 2 or out.shape[0] != 2 or Counter(map(tuple, out.T.tolist())) != expected:
        checks.base.fail(prop, "the edges with self loops added differ from the expected set", hint)


@pytest.mark.points(1)
@pytest.mark.property("degree")
@pytest.mark.forbid(*FORBIDDEN)
def test_degree(reference, submission):
    """degree counts occurrences, as floats, zero for nodes that never occur."""
    checks.matches_reference(submission, reference, model=None, call="degree", inputs=[(KARATE[1], 34), (torch.tensor([4, 4, 0]), 6)],
                             dtypes=(None,), gradients=False, prop="degree", hint="a float count per node: index_add of ones, or bincount(minlength)")


@pytest.mark.points(2)
@pytest.mark.property("scatter")
@pytest.mark.forbid(*FORBIDDEN)
def test_scatter_matches_reference(reference, submission):
    """sum, mean and max of (E, F) and (E,) rows per node, gradients too; nodes receiving nothing get 0."""
    index = torch.tensor([0, 2, 2, 5, 0, 2])  # nodes 1, 3, 4 receive nothing
    for reduce in ("sum", "mean", "max"):
        checks.matches_reference(submission, reference, model=None, call="scatter",
                                 inputs=[(randn(6, 3), index, 6, reduce), (randn(6, seed=1), index, 7, reduce)],
                                 prop="scatter", hint="combine the rows going to each node; a node that receives nothing gets 0 — also for max (not -inf)")


@pytest.mark.points(1)
@pytest.mark.property("message passing")
@pytest.mark.forbid(*FORBIDDEN)
def test_message_passing_template(reference, submission):
    """propagate calls message(x_i=x[target], x_j=x[source], **kwargs) and aggregates at the target."""
    prop, hint = "message passing", "x_j = x[edge_index[0]] (source), x_i = x[edge_index[1]] (target); aggregate with index = edge_index[1]"
    for aggr in ("sum", "mean", "max"):
        request = dict(aggr=aggr, x=randn(5, 2), edge_index=DIRECTED, weight=randn(4, seed=3), patch=TRUSTED_PRIMITIVES)
        expected = reference.run("message_passing", **request)["output"]
        checks.expect_close(submission.run("message_passing", **request)["output"], expected, f"propagate ({aggr})", prop, hint=hint)


# -- layers ------------------------------------------------------------------------------------

@pytest.mark.points(2)
@pytest.mark.property("equality with GCNConv")
@pytest.mark.forbid(*FORBIDDEN)
def test_gcn_layer_matches_reference(reference, submission):
    """Outputs and gradients equal the reference (= GCNConv): karate club, isolated nodes, a directed graph."""
    for edge_index, n in ((KARATE, 34), (ISOLATED, 7), (DIRECTED, 5)):
        checks.matches_reference(submission, reference, model=Build("GCNLayer", 3, 4), inputs=[(randn(n, 3), edge_index)], patch=TRUSTED_PRIMITIVES,
                                 prop="equality with GCNConv",
                                 hint="self loops, degree of the TARGET, message x_j W / sqrt(deg_j deg_i), sum at the target, then the bias")


@pytest.mark.points(2)
@pytest.mark.property("equality with SAGEConv")
@pytest.mark.forbid(*FORBIDDEN)
def test_sage_layer_matches_reference(reference, submission):
    """Outputs and gradients equal the reference (= SAGEConv(aggr="mean"))."""
    for edge_index, n in ((KARATE, 34), (ISOLATED, 7), (DIRECTED, 5)):
        checks.matches_reference(submission, reference, model=Build("SAGELayer", 3, 4), inputs=[(randn(n, 3), edge_index)], patch=TRUSTED_PRIMITIVES,
                                 prop="equality with SAGEConv", hint="lin_l(mean of incoming neighbours) + lin_r(x); no neighbours → mean 0")


@pytest.mark.points(1)
@pytest.mark.property("any number of nodes")
@pytest.mark.forbid(*FORBIDDEN)
def test_layers_handle_any_number_of_nodes(reference, submission):
    """The same weights give N outputs for N = 1, 2, 7 and 40 nodes (GCNLayer, SAGELayer, GCN)."""
    prop, hint = "any number of nodes", "no size may depend on the number of nodes: the same weights serve every node"
    graphs = ((1, torch.tensor([[0], [0]])), (2, both_ways([(0, 1)])), (7, both_ways([(i, (i + 1) % 7) for i in range(7)])),
              (40, both_ways([(i, i + 1) for i in range(39)])))
    for model in (Build("GCNLayer", 3, 4), Build("SAGELayer", 3, 4), Build("GCN", 3, 8, 4)):
        sd = checks.reference_state_dict(reference, model, torch.float64, patch=TRUSTED_PRIMITIVES)
        for n, edge_index in graphs:
            out = submission.run("run", model=model, state_dict=sd, dtype=torch.float64, args=(randn(n, 3), edge_index), backward=False,
                                 patch=TRUSTED_PRIMITIVES)["output"]
            checks.expect_tensor(out, f"the output of {model} for {n} nodes", prop, shape=(n, 4), hint=hint)


@pytest.mark.points(1)
@pytest.mark.property("isolated nodes")
@pytest.mark.forbid(*FORBIDDEN)
def test_isolated_nodes(reference, submission):
    """A node without edges gets a finite output (and gradient) computed from its own features alone."""
    prop, hint = "isolated nodes", "a node with no incoming edge aggregates nothing (mean 0, not 0/0) and keeps its own features (GCN: its self loop)"
    for model in (Build("GCNLayer", 3, 4), Build("SAGELayer", 3, 4), Build("GCN", 3, 8, 4)):
        sd = checks.reference_state_dict(reference, model, torch.float64, patch=TRUSTED_PRIMITIVES)
        for n, edge_index, alone in ((7, ISOLATED, [3, 6]), (3, NO_EDGES, [0, 1, 2])):
            where = f"{model} on {n} nodes, {edge_index.shape[1]} edges"
            x = randn(n, 3)
            result = submission.run("run", model=model, state_dict=sd, dtype=torch.float64, args=(x, edge_index), grad_args=(0,), patch=TRUSTED_PRIMITIVES)
            out = checks.expect_tensor(result["output"], f"the output of {where}", prop, shape=(n, 4), hint=hint)
            checks.expect_tensor(result["input_grads"][0], f"the gradient w.r.t. x of {where}", prop, shape=(n, 3), hint=hint)
            others, own = x.clone(), x.clone()
            others[[i for i in range(n) if i not in alone]] += 3.0
            own[alone] += 3.0
            for changed, should_change, what in ((others, False, "changed when only other nodes changed"), (own, True, "ignored their own features")):
                new = checks.expect_tensor(submission.run("run", model=model, state_dict=sd, dtype=torch.float64, args=(changed, edge_index),
                                                          backward=False, patch=TRUSTED_PRIMITIVES)["output"], f"the output of {where}", prop, hint=hint)
                unchanged = torch.isclose(new[alone], out[alone]).all(dim=1)
                if (should_change and bool(unchanged.any())) or (not should_change and not bool(unchanged.all())):
                    checks.base.fail(prop, f"{where}: the outputs of the isolated nodes {what}", hint)


@pytest.mark.points(1)
@pytest.mark.property("permutation equivariance")
@pytest.mark.forbid(*FORBIDDEN)
def test_layers_are_permutation_equivariant(submission):
    """Relabelling the nodes relabels the outputs of GCNLayer, SAGELayer and GCN."""
    for model in (Build("GCNLayer", 3, 4), Build("SAGELayer", 3, 4), Build("GCN", 3, 8, 2)):
        node_permutation_equivariant(submission, model=model, x=randn(34, 3), edge_index=KARATE, patch=TRUSTED_PRIMITIVES,
                                     prop="permutation equivariance", hint="a node's output may depend on its features and its neighbours', never on its index")


@pytest.mark.points(1)
@pytest.mark.property("locality")
@pytest.mark.forbid(*FORBIDDEN)
def test_k_layers_see_k_hops(submission):
    """After 2 GCN layers, node 0 of a path ignores nodes 3+ hops away but sees node 2."""
    local(submission, model=Build("GCN", 3, 8, 2, num_layers=2), hops=2, patch=TRUSTED_PRIMITIVES, prop="locality",
          hint="each layer only passes messages along edges: one hop per layer")


@pytest.mark.points(1)
@pytest.mark.property("edge direction")
@pytest.mark.forbid(*FORBIDDEN)
def test_messages_follow_edge_direction(reference, submission):
    """On the directed cycle 0 → 1 → 2 → 0, node 1 sees node 0 and node 0 does not see node 1."""
    prop, hint = "edge direction", "messages flow from edge_index[0] to edge_index[1] — aggregate at the target only"
    edge_index = torch.tensor([[0, 1, 2], [1, 2, 0]])
    for layer in LAYERS:
        model = Build(layer, 2, 3)
        sd = checks.reference_state_dict(reference, model, torch.float64, patch=TRUSTED_PRIMITIVES)
        x = randn(3, 2)
        run = lambda feats: checks.expect_tensor(submission.run("run", model=model, state_dict=sd, dtype=torch.float64, args=(feats, edge_index),
                                                                backward=False, patch=TRUSTED_PRIMITIVES)["output"], "the output", prop, hint=hint)
        base = run(x)
        changed_1, changed_0 = x.clone(), x.clone()
        changed_1[1] += 3.0
        changed_0[0] += 3.0
        if not torch.allclose(run(changed_1)[0], base[0]):
            checks.base.fail(prop, f"{layer}: node 0 changed when only node 1 (the target of 0 → 1) changed", hint)
        if torch.allclose(run(changed_0)[1], base[1]):
            checks.base.fail(prop, f"{layer}: node 1 ignored node 0 (the source of 0 → 1)", hint)


# -- pooling, scores, graph classifier -----------------------------------------------------------

@pytest.mark.points(1)
@pytest.mark.property("pooling")
@pytest.mark.forbid(*FORBIDDEN)
def test_global_mean_pool(reference, submission):
    """The mean per graph (batch vector respected, empty graphs → 0), with gradients."""
    batch = torch.tensor([0, 0, 2, 2, 2, 0])
    checks.matches_reference(submission, reference, model=None, call="global_mean_pool", patch=TRUSTED_PRIMITIVES,
                             inputs=[(randn(6, 3), batch), (randn(6, 3), batch, 4)], prop="pooling",
                             hint="average the nodes of each graph (batch[i] is node i's graph); a graph with no node gets zeros")


@pytest.mark.points(1)
@pytest.mark.property("link scores")
@pytest.mark.forbid(*FORBIDDEN)
def test_link_scores(reference, submission):
    """Dot products of the two endpoints' embeddings, with gradients."""
    checks.matches_reference(submission, reference, model=None, call="link_scores", inputs=[(randn(6, 4), torch.tensor([[0, 1, 5], [2, 1, 3]]))],
                             prop="link scores", hint="(z[pairs[0]] * z[pairs[1]]).sum(-1)")


@pytest.mark.points(1)
@pytest.mark.property("pooling invariance")
@pytest.mark.forbid(*FORBIDDEN)
def test_pooling_ignores_node_order(submission):
    """Relabelling the nodes (their features and `batch` entries together) leaves every graph's pooled vector unchanged."""
    batch = torch.tensor([0, 1, 0, 2, 1, 0, 2, 2, 1, 0])
    for seed in (0, 1):
        node_permutation_equivariant(submission, call="global_mean_pool", x=randn(10, 3), edge_index=None, rest=(batch,), invariant=True,
                                     patch=TRUSTED_PRIMITIVES, seed=seed, prop="pooling invariance",
                                     hint="a graph's vector may depend on its nodes' features, never on their order (out[batch] = x keeps only one node)")


@pytest.mark.points(1)
@pytest.mark.property("graph batches")
@pytest.mark.forbid(*FORBIDDEN)
def test_graph_classifier_respects_batch(submission):
    """Graphs batched together get the same logits as alone, and relabelling nodes changes nothing."""
    prop, hint = "graph batches", "pool per graph with the batch vector: one graph's nodes must not leak into another's output"
    data = graph_families(3, seed=5)
    model = Build("GraphClassifier", 1, 8, 3)
    x = data["x"].double() + randn(len(data["x"]), 1, seed=2)
    run = dict(model=model, dtype=torch.float64, backward=False, patch=TRUSTED_BLOCKS)
    together = checks.expect_tensor(submission.run("run", args=(x, data["edge_index"], data["batch"]), **run)["output"],
                                    "the logits", prop, shape=(3, 3), hint=hint)
    for g in range(3):
        nodes = (data["batch"] == g).nonzero().flatten()
        keep = torch.isin(data["edge_index"][0], nodes)
        edge_index = data["edge_index"][:, keep] - nodes[0]
        alone = submission.run("run", args=(x[nodes], edge_index, torch.zeros(len(nodes), dtype=torch.long)), **run)["output"]
        checks.expect_close(alone, together[g:g + 1], f"graph {g}'s logits when it is alone", prop, hint=hint)
    node_permutation_equivariant(submission, model=model, x=x, edge_index=data["edge_index"], rest=(data["batch"],), invariant=True,
                                 patch=TRUSTED_BLOCKS, prop=prop, hint=hint)


# -- the three tasks ---------------------------------------------------------------------------
# The grader's own loops (autograder/probes/gnn.py) train the student's GCN / GraphClassifier,
# built on trusted layers, from weights the grader draws itself (`init_seed`).  Thresholds:
# the reference meets them on 10 of 10 seeds, a model that ignores the edges (or the batch)
# misses them — both measured in tests/test_gnn_oracles.py, which calls these functions.

NODE_ACCURACY, LINK_AUC, GRAPH_ACCURACY = 0.9, 0.7, 0.9


def node_accuracy(subject, init_seed: int = 0) -> float:
    """Held-out accuracy of a GCN trained on 20% of a block model's nodes."""
    data = community_nodes(seed=0)
    logits = subject.run("train_node_classifier", patch=TRUSTED_BLOCKS, model=Build("GCN", 3, 16, 3), x=data["x"], edge_index=data["edge_index"],
                         y_train=data["y"][data["train_mask"]], train_mask=data["train_mask"], steps=100, lr=0.01, init_seed=init_seed)["logits"]
    logits = checks.expect_tensor(logits, "the logits", "node classification", shape=(len(data["y"]), 3))
    test = ~data["train_mask"]
    return float((logits.argmax(1)[test] == data["y"][test]).double().mean())


def auc(positive: torch.Tensor, negative: torch.Tensor) -> float:
    """The probability that a held-out edge scores above a non-edge (ties count half)."""
    diff = positive[:, None] - negative[None, :]
    return float((diff > 0).double().mean() + 0.5 * (diff == 0).double().mean())


def link_auc(subject, init_seed: int = 0) -> float:
    """AUC of held-out edges against as many non-edges, scored by a trained GCN encoder + `link_scores`."""
    data = link_split(seed=0)
    pairs = torch.cat([data["test_pos"], data["test_neg"]], dim=1)
    scores = subject.run("train_link_predictor", patch=TRUSTED_BLOCKS, model=Build("GCN", 4, 32, 16), x=data["x"],
                         train_edge_index=data["train_edge_index"], pairs=pairs, steps=100, lr=0.01, init_seed=init_seed)["scores"]
    scores = checks.expect_tensor(scores, "the scores", "link prediction", shape=(pairs.shape[1],))
    p = data["test_pos"].shape[1]
    return auc(scores[:p], scores[p:])


def graph_accuracy(subject, init_seed: int = 0) -> float:
    """Held-out accuracy of a GraphClassifier on cycles, stars and wheels (constant node features)."""
    train, held_out = graph_families(120, seed=0), graph_families(60, seed=1)
    logits = subject.run("train_graph_classifier", patch=TRUSTED_BLOCKS, model=Build("GraphClassifier", 1, 32, 3), x=train["x"],
                         edge_index=train["edge_index"], batch=train["batch"], y=train["y"], eval_x=held_out["x"],
                         eval_edge_index=held_out["edge_index"], eval_batch=held_out["batch"], steps=300, lr=0.02, init_seed=init_seed)["logits"]
    logits = checks.expect_tensor(logits, "the logits", "graph classification", shape=(60, 3))
    return float((logits.argmax(1) == held_out["y"]).double().mean())


@pytest.mark.points(2)
@pytest.mark.property("node classification")
def test_node_classification(submission):
    """Your GCN, trained on 20% of a block model's nodes, labels the others (≥ 90%; features alone ≈ 55%)."""
    checks.reaches(node_accuracy(submission), NODE_ACCURACY, "held-out node accuracy", "node classification",
                   "pass edge_index to every layer: messages from the neighbours (same community) average the noise away")


@pytest.mark.points(2)
@pytest.mark.property("link prediction")
def test_link_prediction(submission):
    """Your GCN's embeddings + link_scores rank held-out edges above non-edges (AUC ≥ 0.70; without edges ≈ 0.6)."""
    checks.reaches(link_auc(submission), LINK_AUC, "held-out AUC", "link prediction",
                   "pass edge_index to every layer: nodes with shared neighbours get similar embeddings, so a high dot product")


@pytest.mark.points(2)
@pytest.mark.property("graph classification")
def test_graph_classification(submission):
    """Your GraphClassifier tells cycles, stars and wheels apart from structure alone (≥ 90%; without edges or batch ≈ 35%)."""
    checks.reaches(graph_accuracy(submission), GRAPH_ACCURACY, "held-out graph accuracy", "graph classification",
                   "with constant features only the degrees seen through message passing tell the families apart (a mean over neighbours cannot count them, GCN's normalisation can); pool per graph")
