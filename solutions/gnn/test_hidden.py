"""Hidden tests of the gnn assignment (instructor-only).

Every test grades one piece.  The pieces below it are handled so that correct code keeps
full marks however it binds its own names, and a broken piece costs its own points once:

- layers inside models are replaced by trusted ones in the BUILT model, where SPEC puts
  them (`on_trusted_layers`): every child of `GCN.layers`, every `GCNLayer` / `SAGELayer`
  instance of a free-form `GraphClassifier`;
- the primitives (`scatter`, `degree`, `add_self_loops`) and `global_mean_pool` can only
  be replaced as module globals, which code that bound them at import time never sees; so
  a test runs the student's own pieces first, and only when that fails runs once more with
  trusted ones patched in (`own_then_trusted`): a correct student passes on their own code,
  a broken primitive that the layer looks up by name costs only the primitive's test.

The task tests train with the grader's loops in the worker (weights drawn by the grader,
`init_seed`), get the trained weights back, and evaluate them here: on the reference `GCN`
(in this process) and with the student's own forward in a fresh call — the lower of the
two counts; held-out labels and held-out link pairs never reach the worker.
"""

from collections import Counter
from typing import Any, Callable, NamedTuple

import networkx as nx
import pytest
import torch

from autograder import checks
from autograder.checks import verdicts
from autograder.checks.base import CheckFailed, fail
from autograder.checks.graphs import local, node_permutation_equivariant, relabel
from autograder.checks.symmetry import nontrivial
from autograder.checks.training import accuracy_of
from autograder.data.graphs import community_nodes, graph_families, link_split
from autograder.errors import StudentCodeError
from autograder.judge.subject import run_each
from autograder.worker.probes import Build
from autograder.worker.probes.gnn import (
    TRUSTED_POOLING,
    TRUSTED_PRIMITIVES,
    on_trusted_layers,
    seeded_weights,
)
from autograder.worker.spec import resolve

FORBIDDEN = ("torch_geometric", "torch_scatter", "torch_sparse")


def randn(*shape, seed=0):
    return torch.randn(*shape, generator=torch.Generator().manual_seed(seed), dtype=torch.float64)


def both_ways(pairs):
    return torch.tensor(pairs + [(v, u) for u, v in pairs], dtype=torch.long).T


KARATE = both_ways(list(nx.karate_club_graph().edges()))
ISOLATED = both_ways([(0, 1), (1, 2), (4, 5)])  # node 3 and 6 have no edge
DIRECTED = torch.tensor([[0, 1, 2, 3], [1, 2, 0, 0]])  # 5 nodes: 3 receives nothing, 4 has no edge
LOOPED = torch.tensor([[0, 1, 1, 2, 2, 3, 4, 0], [1, 0, 2, 1, 2, 3, 0, 0]])  # 5 nodes: 0, 2 and 3 have their loop already
NO_EDGES = torch.zeros(2, 0, dtype=torch.long)
LOOP = torch.tensor([[0], [0]])
REPEATED = torch.tensor([[0, 0, 1, 1, 2, 3, 2, 4], [1, 1, 0, 0, 1, 2, 3, 3]])  # 5 nodes: 0 → 1 and 1 → 0 listed twice (PyG: two messages)
LAYERS = ("GCNLayer", "SAGELayer")


#: (a primitive, its arguments): where the student's own must equal the trusted one for no retry on trusted ones —
#: the primitive tests' own kinds of input (1-D and 2-D src, nodes receiving nothing, no edges, a loop already there)
PRIMITIVE_CASES = (
    *(("scatter", (src, torch.tensor([0, 2, 2, 1, 0, 2]), 4, reduce)) for reduce in ("sum", "mean", "max")
      for src in (randn(6, 3, seed=40), randn(6, seed=42))),
    ("scatter", (randn(0, 3, seed=43), torch.zeros(0, dtype=torch.long), 2, "sum")),
    ("degree", (torch.tensor([0, 2, 2, 1]), 4)),
    ("degree", (torch.zeros(0, dtype=torch.long), 2)),
    ("add_self_loops", (torch.tensor([[0, 0, 1, 1], [1, 1, 1, 2]]), 3)),
    ("add_self_loops", (torch.zeros(2, 0, dtype=torch.long), 2)),
    ("global_mean_pool", (randn(5, 3, seed=41), torch.tensor([0, 0, 2, 2, 2]))),
    ("global_mean_pool", (randn(5, 3, seed=41), torch.tensor([0, 0, 2, 2, 2]), 4)),
)


def _same_primitive_output(name: str, output: Any, expected: torch.Tensor) -> bool:
    """`output` is what the trusted primitive gives: an edge list as a multiset of edges (any
    order), anything else entry by entry."""
    if not (isinstance(output, torch.Tensor) and output.shape == expected.shape and output.dtype == expected.dtype):
        return False
    if name == "add_self_loops":
        return Counter(map(tuple, output.T.tolist())) == Counter(map(tuple, expected.T.tolist()))
    return torch.allclose(output, expected)


#: the test that grades each primitive a layer computes with
PRIMITIVE_TESTS = {"scatter": "test_scatter_matches_reference", "degree": "test_degree", "add_self_loops": "test_add_self_loops",
                   "global_mean_pool": "test_global_mean_pool"}


def primitives_right(submission, patch: dict) -> bool:
    """Whether the student's own primitives among `patch` compute what the trusted ones do
    (computed here), on the primitive tests' kinds of input."""
    for name, args in PRIMITIVE_CASES:
        if name not in patch:
            continue
        result = submission.run("run", call=name, args=args, backward=False, allow_error=True)
        if not _same_primitive_output(name, result.get("output") if isinstance(result, dict) else None, resolve(None, patch[name])(*args)):
            return False
    return True


def own_then_trusted(check: Callable[[dict | None], Any], patch: dict, submission) -> Any:
    """`check(None)` on the student's own pieces; when it fails and one of the student's own
    primitives is wrong — its test failed (`PRIMITIVE_TESTS`), or, before those ran, it
    differs here (`primitives_right`) — `check(patch)` once more with the trusted ones
    patched in as module globals.  The first failure is the one reported: a
    layer that is wrong with right primitives of its own gets no second try (it could tell
    the trusted ones by their module and be right only with them)."""
    try:
        return check(None)
    except (CheckFailed, StudentCodeError) as own:
        graded = verdicts.all_passed(PRIMITIVE_TESTS[name] for name in patch if name in PRIMITIVE_TESTS)
        if graded if graded is not None else primitives_right(submission, patch):
            raise
        try:
            return check(patch)
        except (CheckFailed, StudentCodeError):
            raise own from None


def computes(submission, model: Build, args: tuple, before: torch.Tensor, after: torch.Tensor, prop: str, hint: str, *,
             state_dict: dict | None = None, patch: dict | None = None) -> None:
    """A relation (any size, equivariance) shows something only of a layer that computes:
    `before` and `after`, its outputs for features `args[0]` and `args[0] + 1`, must differ
    (`nontrivial`), must not be one row repeated for every node (a mean over all nodes is
    equivariant too), and the output must change with the weights (`depends_on_weights`)."""
    nontrivial(before, args[0], after, prop, hint)
    if before.dim() == 2 and len(before) > 1 and torch.equal(before, before[:1].expand_as(before)):
        fail(prop, f"{model}: every node got the same output — it ignores the nodes' own features and neighbours", hint)
    checks.depends_on_weights(submission, model=model, args=args, state_dict=state_dict, patch=patch, prop=prop, hint=hint)


# -- primitives ------------------------------------------------------------------------------

@pytest.mark.points(1)
@pytest.mark.property("graph conversion")
@pytest.mark.forbid(*FORBIDDEN)
def test_edge_index_from_networkx(submission):
    """Undirected edges in both directions, directed as given (a MultiDiGraph's too), a self loop once, nodes = list(G.nodes); one
    node, no edge, an edge of weight 0, and a multigraph's parallel edges (each kept, as often as it is there), too."""
    prop, hint = "graph conversion", ("position of each node in list(G.nodes); undirected edges both ways (ask G.is_directed(): a "
                                      "MultiDiGraph is directed too), self loops once, a multigraph's parallel edges each as often as it is there")
    directed = nx.DiGraph([("a", "b"), ("b", "c"), ("c", "a")])
    multi_directed = nx.MultiDiGraph([("x", "y"), ("x", "y"), ("y", "z")])  # directed, though `type(G) is nx.DiGraph` is False
    parallel = nx.MultiGraph([(0, 1), (0, 1), (1, 2), (2, 2), (2, 2)])  # two edges 0 - 1, two loops at 2: each one counts
    looped = nx.Graph([(3, 1), (1, 1), (1, 2)])
    single = nx.Graph([("only", "only")])
    weighted = nx.Graph([(0, 1, {"weight": 0.0}), (1, 2, {"weight": 2.5})])  # an edge of weight 0 is an edge (an adjacency matrix drops it)
    for G in (nx.karate_club_graph(), directed, looped, single, nx.empty_graph(3), weighted, multi_directed, parallel):
        out = submission.run("run", call="edge_index_from_networkx", args=(G,), backward=False)["output"]
        if not isinstance(out, (tuple, list)) or len(out) != 2:
            fail(prop, "edge_index_from_networkx should return (edge_index, nodes)", hint)
        edge_index = checks.expect_tensor(out[0], "edge_index", prop, dtype=torch.long, hint=hint)
        nodes = list(out[1]) if isinstance(out[1], (tuple, list)) else None
        if not checks.modules.plain_equal(nodes, list(G.nodes)):  # a reply's items, whatever they are, never raise here
            fail(prop, "`nodes` should be list(G.nodes), in that order", hint)
        if edge_index.dim() != 2 or edge_index.shape[0] != 2:
            fail(prop, f"edge_index should have shape (2, E), got {tuple(edge_index.shape)} ({G.number_of_edges()} edges)", hint)
        if edge_index.numel() and not (0 <= int(edge_index.min()) and int(edge_index.max()) < len(nodes)):
            fail(prop, "edge_index holds a position outside 0 .. len(nodes) - 1", hint)
        got = Counter((nodes[s], nodes[t]) for s, t in edge_index.T.tolist())
        expected = Counter()
        for u, v in G.edges():
            expected[(u, v)] += 1
            if not G.is_directed() and u != v:
                expected[(v, u)] += 1
        if got != expected:
            kind = "directed" if G.is_directed() else "undirected"
            fail(prop, f"the edges differ from the graph's ({kind} {type(G).__name__} of {G.number_of_nodes()} nodes)", hint)


@pytest.mark.points(1)
@pytest.mark.property("self loops")
@pytest.mark.forbid(*FORBIDDEN)
def test_add_self_loops(submission):
    """Adds exactly one loop to every node without one and keeps every edge, a repeated one as often as it is there (also for one node)."""
    prop, hint = "self loops", "append (i, i) for every node i that has no loop yet; keep the existing edges, each as often as it occurs"
    multigraph = torch.tensor([[0, 0, 1, 2, 1], [1, 1, 0, 2, 0]])  # 0 → 1 twice, 1 → 0 twice, 2's loop
    for edge_index, n in ((torch.tensor([[0, 1, 2, 2], [1, 0, 2, 0]]), 5), (NO_EDGES, 1), (LOOP, 1), (multigraph, 4)):
        out = submission.run("run", call="add_self_loops", args=(edge_index, n), backward=False)["output"]
        out = checks.expect_tensor(out, "the result", prop, dtype=torch.long, hint=hint)
        edges = Counter(map(tuple, edge_index.T.tolist()))
        expected = edges + Counter((i, i) for i in range(n) if (i, i) not in edges)
        if out.dim() != 2 or out.shape[0] != 2 or Counter(map(tuple, out.T.tolist())) != expected:
            fail(prop, f"the edges with self loops added differ from the expected set ({n} nodes, {edge_index.shape[1]} edges)", hint)


@pytest.mark.points(1)
@pytest.mark.property("degree")
@pytest.mark.forbid(*FORBIDDEN)
def test_degree(reference, submission):
    """degree counts occurrences, as floats, zero for nodes that never occur; one node too."""
    checks.matches_reference(submission, reference, model=None, call="degree",
                             inputs=[(KARATE[1], 34), (torch.tensor([4, 4, 0]), 6), (torch.tensor([0, 0]), 1)],
                             dtypes=(None,), gradients=False, prop="degree", hint="a float count per node: index_add of ones, or bincount(minlength)")


@pytest.mark.points(2)
@pytest.mark.property("scatter")
@pytest.mark.forbid(*FORBIDDEN)
def test_scatter_matches_reference(reference, submission):
    """sum (the default), mean and max of (E, F) and (E,) rows per node, gradients too; nodes
    receiving nothing get 0; one node; no rows at all."""
    prop, hint = "scatter", "combine the rows going to each node; a node that receives nothing gets 0 — also for max (not -inf)"
    index = torch.tensor([0, 2, 2, 5, 0, 2])  # nodes 1, 3, 4 receive nothing
    for reduce in ("sum", "mean", "max"):
        checks.matches_reference(submission, reference, model=None, call="scatter",
                                 inputs=[(randn(6, 3), index, 6, reduce), (randn(6, seed=1), index, 7, reduce),
                                         (randn(3, 2, seed=2), torch.zeros(3, dtype=torch.long), 1, reduce)], prop=prop, hint=hint)
        checks.matches_reference(submission, reference, model=None, call="scatter", gradients=False,
                                 inputs=[(randn(0, 2), torch.zeros(0, dtype=torch.long), 3, reduce)], prop=prop, hint=hint)
    checks.matches_reference(submission, reference, model=None, call="scatter", inputs=[(randn(6, 3, seed=3), index, 6)], prop=prop,
                             hint="reduce defaults to \"sum\"")


@pytest.mark.points(1)
@pytest.mark.property("message passing")
@pytest.mark.forbid(*FORBIDDEN)
def test_message_passing_template(reference, submission):
    """propagate calls message(x_i=x[target], x_j=x[source], **kwargs) — by keyword: the subclass's message declares (x_j, x_i, weight) —
    and aggregates at the target with `aggr` (default sum)."""
    prop, hint = "message passing", ("x_j = x[edge_index[0]] (source), x_i = x[edge_index[1]] (target), passed to message by keyword "
                                     "(a layer's message may list them in any order); aggregate with index = edge_index[1]")
    for aggr in ("sum", "mean", "max", None):
        request = dict(hook="message", aggr=aggr, x=randn(5, 2), edge_index=DIRECTED, weight=randn(4, seed=3))
        what = f"propagate with aggr={aggr!r}" if aggr else "propagate with the default aggr"

        def check(patch, request=request, what=what):
            expected = reference.run("message_passing", patch=patch, **request)["output"]
            checks.expect_close(submission.run("message_passing", patch=patch, **request)["output"], expected, what, prop, hint=hint)

        own_then_trusted(check, TRUSTED_PRIMITIVES, submission)


@pytest.mark.points(1)
@pytest.mark.property("message passing")
@pytest.mark.forbid(*FORBIDDEN)
def test_message_passing_hooks(reference, submission):
    """A subclass that overrides aggregate(messages, index, num_nodes) or update(aggr_out, x) sees its override used by propagate."""
    prop = "message passing"
    hints = {"aggregate": "propagate must combine the messages with self.aggregate(messages, index=edge_index[1], num_nodes=x.shape[0])",
             "update": "propagate must return self.update(aggr_out, x): a layer may override update"}
    for hook, aggr in (("aggregate", "sum"), ("update", "sum"), ("update", "mean")):
        request = dict(hook=hook, aggr=aggr, x=randn(5, 2, seed=4), edge_index=DIRECTED)

        def check(patch, request=request, hook=hook):
            expected = reference.run("message_passing", patch=patch, **request)["output"]
            checks.expect_close(submission.run("message_passing", patch=patch, **request)["output"], expected,
                                f"propagate of a subclass that overrides {hook}", prop, hint=hints[hook])

        own_then_trusted(check, TRUSTED_PRIMITIVES, submission)


# -- layers ------------------------------------------------------------------------------------

def _layer_matches(reference, submission, layer: str, layout: Callable[[bool], dict], prop: str, hint: str) -> None:
    """`layer(3, 4, bias=...)`: PyG's parameter layout, then outputs and gradients equal the
    reference on the karate club, a graph with isolated nodes, a directed graph, one
    where some nodes have their self loop already and one with edges listed twice."""
    for bias in (True, False):
        model = Build(layer, 3, 4) if bias else Build(layer, 3, 4, bias=False)
        checks.parameters_like(submission, model, layout(bias), prop=prop, hint="bias=False means no bias parameter at all")
        for edge_index, n in ((KARATE, 34), (ISOLATED, 7), (DIRECTED, 5), (LOOPED, 5), (REPEATED, 5)):
            own_then_trusted(lambda patch: checks.matches_reference(submission, reference, model=model, inputs=[(randn(n, 3), edge_index)],
                                                                    patch=patch, prop=prop, hint=hint), TRUSTED_PRIMITIVES, submission)


@pytest.mark.points(2)
@pytest.mark.property("equality with GCNConv")
@pytest.mark.forbid(*FORBIDDEN)
def test_gcn_layer_matches_reference(reference, submission):
    """Parameters as GCNConv's (bias=True and False); outputs and gradients equal the reference (= GCNConv), float64 and float32,
    also from a layer that ran on other graphs before (one of them with as many nodes and edges)."""
    _layer_matches(reference, submission, "GCNLayer", lambda bias: {"lin.weight": (4, 3), **({"bias": (4,)} if bias else {})},
                   "equality with GCNConv", "a self loop for every node without one (never a second), degree of the TARGET (in x's dtype), "
                   "message x_j W / sqrt(deg_j deg_i), sum at the target, then the bias; an edge listed twice is two messages")
    reused = Build("autograder.worker.probes.gnn:AfterAnotherGraph", Build("GCNLayer", 3, 4))
    own_then_trusted(lambda patch: checks.matches_reference(
        submission, reference, model=reused, inputs=[(randn(34, 3), KARATE)], patch=patch, prop="equality with GCNConv",
        hint="one layer serves every graph: compute the self loops, degrees and normalisation from each call's edge_index, keep none of them"),
        TRUSTED_PRIMITIVES, submission)


@pytest.mark.points(2)
@pytest.mark.property("equality with SAGEConv")
@pytest.mark.forbid(*FORBIDDEN)
def test_sage_layer_matches_reference(reference, submission):
    """Parameters as SAGEConv's (bias=True and False); outputs and gradients equal the reference (= SAGEConv(aggr="mean"))."""
    _layer_matches(reference, submission, "SAGELayer",
                   lambda bias: {"lin_l.weight": (4, 3), **({"lin_l.bias": (4,)} if bias else {}), "lin_r.weight": (4, 3)},
                   "equality with SAGEConv", "lin_l(mean of incoming neighbours) + lin_r(x); no neighbours → mean 0; "
                   "an edge listed twice counts twice in the mean")


@pytest.mark.points(1)
@pytest.mark.property("any number of nodes")
@pytest.mark.forbid(*FORBIDDEN)
def test_layers_handle_any_number_of_nodes(reference, submission):
    """The same weights give N outputs for N = 1, 2, 7 and 40 nodes (GCNLayer, SAGELayer, GCN)."""
    prop, hint = "any number of nodes", "no size may depend on the number of nodes: the same weights serve every node"
    graphs = ((1, LOOP), (2, both_ways([(0, 1)])), (7, both_ways([(i, (i + 1) % 7) for i in range(7)])),
              (40, both_ways([(i, i + 1) for i in range(39)])))

    def check(patch):
        for model in (Build("GCNLayer", 3, 4), Build("SAGELayer", 3, 4), Build("GCN", 3, 8, 4)):
            sd = checks.reference_state_dict(reference, model, torch.float64, patch=patch)
            n, edge_index = graphs[-1]
            inputs = [(randn(n, 3), edge_index) for n, edge_index in graphs] + [(randn(n, 3) + 1.0, edge_index)]
            results = run_each(submission, "run", [dict(model=model, state_dict=sd, dtype=torch.float64, args=args, backward=False)
                                                   for args in inputs], patch=patch)
            outputs = [checks.expect_tensor(result["output"], f"the output of {model} for {n} nodes", prop, shape=(n, 4), dtype=torch.float64,
                                            hint=hint) for (n, _), result in zip(graphs, results)]
            shifted = checks.expect_tensor(next(results)["output"], f"the output of {model} for {n} shifted nodes", prop, shape=(n, 4),
                                           dtype=torch.float64, hint=hint)
            computes(submission, model, inputs[-2], outputs[-1], shifted, prop, hint, state_dict=sd, patch=patch)

    own_then_trusted(check, TRUSTED_PRIMITIVES, submission)


@pytest.mark.points(1)
@pytest.mark.property("isolated nodes")
@pytest.mark.forbid(*FORBIDDEN)
def test_isolated_nodes(reference, submission):
    """A node without edges gets a finite output (and gradient) computed from its own features alone."""
    prop, hint = "isolated nodes", "a node with no incoming edge aggregates nothing (mean 0, not 0/0) and keeps its own features (GCN: its self loop)"

    def check(patch):
        for model in (Build("GCNLayer", 3, 4), Build("SAGELayer", 3, 4), Build("GCN", 3, 8, 4)):
            sd = checks.reference_state_dict(reference, model, torch.float64, patch=patch)
            checks.depends_on_weights(submission, model=model, args=(randn(7, 3), ISOLATED), state_dict=sd, patch=patch, prop=prop, hint=hint)
            for n, edge_index, alone in ((7, ISOLATED, [3, 6]), (3, NO_EDGES, [0, 1, 2])):
                where = f"{model} on {n} nodes, {edge_index.shape[1]} edges"
                x = randn(n, 3)
                others, own = x.clone(), x.clone()
                others[[i for i in range(n) if i not in alone]] += 3.0
                own[alone] += 3.0
                run = dict(model=model, state_dict=sd, dtype=torch.float64)
                results = run_each(submission, "run", [dict(args=(x, edge_index), grad_args=(0,), **run),
                                                       *(dict(args=(changed, edge_index), backward=False, **run) for changed in (others, own))],
                                   patch=patch)
                result = next(results)
                out = checks.expect_tensor(result["output"], f"the output of {where}", prop, shape=(n, 4), dtype=torch.float64, hint=hint)
                checks.expect_tensor(result["input_grads"][0], f"the gradient w.r.t. x of {where}", prop, shape=(n, 3), hint=hint)
                for changed, should_change, what in ((others, False, "changed when only other nodes changed"), (own, True, "ignored their own features")):
                    new = checks.expect_tensor(next(results)["output"], f"the output of {where}", prop, shape=(n, 4), dtype=torch.float64,
                                               hint=hint)
                    unchanged = torch.isclose(new[alone], out[alone]).all(dim=1)
                    if (should_change and bool(unchanged.any())) or (not should_change and not bool(unchanged.all())):
                        fail(prop, f"{where}: the outputs of the isolated nodes {what}", hint)

    own_then_trusted(check, TRUSTED_PRIMITIVES, submission)


@pytest.mark.points(1)
@pytest.mark.property("permutation equivariance")
@pytest.mark.forbid(*FORBIDDEN)
def test_layers_are_permutation_equivariant(submission):
    """Relabelling the nodes relabels the outputs of GCNLayer, SAGELayer and GCN."""
    prop, hint = "permutation equivariance", "a node's output may depend on its features and its neighbours', never on its index"
    x = randn(34, 3)

    def check(patch):
        for model, out in ((Build("GCNLayer", 3, 4), 4), (Build("SAGELayer", 3, 4), 4), (Build("GCN", 3, 8, 2), 2)):
            node_permutation_equivariant(submission, model=model, x=x, edge_index=KARATE, patch=patch, prop=prop, hint=hint)
            before, after = (checks.expect_tensor(submission.run("run", model=model, dtype=torch.float64, args=(feats, KARATE), backward=False,
                                                                 patch=patch)["output"], f"the output of {model}", prop, shape=(34, out),
                                                  hint=hint)
                             for feats in (x, x + 1.0))
            computes(submission, model, (x, KARATE), before, after, prop, hint, patch=patch)

    own_then_trusted(check, TRUSTED_PRIMITIVES, submission)


@pytest.mark.points(1)
@pytest.mark.property("locality")
@pytest.mark.forbid(*FORBIDDEN)
def test_k_layers_see_k_hops(submission):
    """A GCN of k = 1, 2, 3 layers: node 0 of a path ignores nodes more than k hops away but sees node k."""
    prop, hint = "locality", "each layer only passes messages along edges: one hop per layer, and GCN(num_layers=k) has k layers"

    def check(patch):
        for k in (1, 2, 3):
            model = Build("GCN", 3, 8, 2, num_layers=k)
            local(submission, model=model, hops=k, patch=patch, prop=prop, hint=hint)
            checks.depends_on_weights(submission, model=model, args=(randn(34, 3), KARATE), patch=patch, prop=prop, hint=hint)

    own_then_trusted(check, TRUSTED_PRIMITIVES, submission)


@pytest.mark.points(1)
@pytest.mark.property("edge direction")
@pytest.mark.forbid(*FORBIDDEN)
def test_messages_follow_edge_direction(reference, submission):
    """On the directed cycle 0 → 1 → 2 → 0, node 1 sees node 0 and node 0 does not see node 1."""
    prop, hint = "edge direction", "messages flow from edge_index[0] to edge_index[1] — aggregate at the target only"
    edge_index = torch.tensor([[0, 1, 2], [1, 2, 0]])
    x = randn(3, 2)

    def check(patch):
        for layer in LAYERS:
            model = Build(layer, 2, 3)
            sd = checks.reference_state_dict(reference, model, torch.float64, patch=patch)
            checks.depends_on_weights(submission, model=model, args=(x, edge_index), state_dict=sd, patch=patch, prop=prop, hint=hint)
            changed_1, changed_0 = x.clone(), x.clone()
            changed_1[1] += 3.0
            changed_0[0] += 3.0
            outs = (checks.expect_tensor(result["output"], "the output", prop, shape=(3, 3), dtype=torch.float64, hint=hint)
                    for result in run_each(submission, "run", [dict(model=model, state_dict=sd, dtype=torch.float64, args=(feats, edge_index),
                                                                    backward=False) for feats in (x, changed_1, changed_0)], patch=patch))
            base = next(outs)
            if not torch.allclose(next(outs)[0], base[0]):
                fail(prop, f"{layer}: node 0 changed when only node 1 (the target of 0 → 1) changed", hint)
            if torch.allclose(next(outs)[1], base[1]):
                fail(prop, f"{layer}: node 1 ignored node 0 (the source of 0 → 1)", hint)

    own_then_trusted(check, TRUSTED_PRIMITIVES, submission)


@pytest.mark.points(1)
@pytest.mark.property("layer stacking")
@pytest.mark.forbid(*FORBIDDEN)
def test_gcn_stacks_num_layers(reference, submission):
    """GCN(3, 5, 4, num_layers=k), k = 1 to 4: k GCN layers in `layers` (3 → 5 → … → 4), each with its own weights, ReLU between them, none after the last,
    edge_index passed on as it is (a directed graph too) (graded on trusted layers, and on the student's own where those are right)."""
    prop, hint = "layer stacking", ("layers = [GCNLayer(in, hidden), …, GCNLayer(hidden, out)], num_layers of them, each built on its own "
                                    "([layer] * n holds one layer n times); ReLU between layers, not after the last; edge_index passed on as it is")
    for k in (1, 2, 3, 4):
        model = on_trusted_layers(Build("GCN", 3, 5, 4, num_layers=k))
        sizes = [3] + [5] * (k - 1) + [4]
        layout = {}
        for i in range(k):
            layout |= {f"layers.{i}.lin.weight": (sizes[i + 1], sizes[i]), f"layers.{i}.bias": (sizes[i + 1],)}
        checks.parameters_like(submission, model, layout, prop=prop, hint=hint)
        sd = checks.reference_state_dict(reference, model, torch.float64)
        for name, value in sd.items():  # biases start at zero: make them count
            sd[name] = value + 0.3 * randn(*value.shape, seed=len(name))
        inputs = [(randn(34, 3), KARATE), (randn(7, 3, seed=1), ISOLATED), (randn(5, 3, seed=2), DIRECTED)]
        for x, edge_index in inputs:
            request = dict(model=model, state_dict=sd, dtype=torch.float64, args=(x, edge_index), grad_args=(0,))
            expected, actual = reference.run("run", **request), submission.run("run", **request)
            where = f"GCN(num_layers={k}) on {x.shape[0]} nodes"
            checks.expect_close(actual["output"], expected["output"], f"the output of {where}", prop, hint=hint)
            checks.expect_close(actual["input_grads"][0], expected["input_grads"][0], f"the gradient w.r.t. x of {where}", prop, hint=hint)
    checks.composed_of_its_own_parts(submission, reference, model=on_trusted_layers(Build("GCN", 3, 5, 4, num_layers=2)),
                                     inputs=[(randn(34, 3), KARATE)], parts=[dict(model=Build("GCNLayer", 3, 5), inputs=[(randn(34, 3), KARATE)],
                                                                # graded on trusted primitives: right on its own when they are too
                                                                tests=("test_gcn_layer_matches_reference", *PRIMITIVE_TESTS.values()))],
                                     prop=prop, hint=hint)


# -- pooling, scores, graph classifier -----------------------------------------------------------

@pytest.mark.points(1)
@pytest.mark.property("pooling")
@pytest.mark.forbid(*FORBIDDEN)
def test_global_mean_pool(reference, submission):
    """The mean per graph (batch vector respected; graphs of different sizes, each divided by its own count; num_graphs
    honoured, graphs with no node → 0, also when every node is in graph 0; one graph), with gradients."""
    batch = torch.tensor([0, 0, 2, 2, 2, 0])
    inputs = [(randn(6, 3), batch), (randn(6, 3), batch, 4), (randn(6, 3, seed=1), batch, 3), (randn(4, 3, seed=2), torch.zeros(4, dtype=torch.long)),
              (randn(4, 3, seed=5), torch.zeros(4, dtype=torch.long), 3),
              (randn(1, 3, seed=3), torch.zeros(1, dtype=torch.long)), (randn(7, 3, seed=4), torch.tensor([0, 0, 1, 1, 1, 1, 0]))]
    own_then_trusted(lambda patch: checks.matches_reference(
        submission, reference, model=None, call="global_mean_pool", patch=patch, inputs=inputs, prop="pooling",
        hint="average the nodes of each graph (batch[i] is node i's graph); num_graphs rows, a graph with no node gets zeros"), TRUSTED_PRIMITIVES,
        submission)


@pytest.mark.points(1)
@pytest.mark.property("link scores")
@pytest.mark.forbid(*FORBIDDEN)
def test_link_scores(reference, submission):
    """Dot products of the two endpoints' embeddings, with gradients; one pair gives shape (1,); two pairs read as columns."""
    checks.matches_reference(submission, reference, model=None, call="link_scores",
                             inputs=[(randn(6, 4), torch.tensor([[0, 1, 5], [2, 1, 3]])), (randn(6, 4, seed=1), torch.tensor([[2], [5]])),
                                     (randn(6, 4, seed=2), torch.tensor([[0, 4], [3, 1]]))],  # P = 2: (2, P) is also (P, 2)
                             prop="link scores", hint="(z[pairs[0]] * z[pairs[1]]).sum(-1): one score per pair, shape (P,)")


@pytest.mark.points(1)
@pytest.mark.property("pooling invariance")
@pytest.mark.forbid(*FORBIDDEN)
def test_pooling_ignores_node_order(submission):
    """Relabelling the nodes (their features and `batch` entries together) leaves every graph's pooled vector unchanged."""
    prop, hint = "pooling invariance", "a graph's vector may depend on its nodes' features, never on their order (out[batch] = x keeps only one node)"
    batch = torch.tensor([0, 1, 0, 2, 1, 0, 2, 2, 1, 0])
    x = randn(10, 3)

    def check(patch):
        for seed in (0, 1):
            node_permutation_equivariant(submission, call="global_mean_pool", x=x, edge_index=None, rest=(batch,), invariant=True,
                                         patch=patch, seed=seed, prop=prop, hint=hint)
        before, after = (checks.expect_tensor(result["output"], "the pooled output", prop, shape=(3, 3), hint=hint)
                         for result in run_each(submission, "run", [dict(call="global_mean_pool", args=(feats, batch), backward=False)
                                                                   for feats in (x, x + 1.0)], patch=patch))
        nontrivial(before, x, after, prop, hint)

    own_then_trusted(check, TRUSTED_PRIMITIVES, submission)


def centred(logits: torch.Tensor) -> torch.Tensor:
    """Each row less its mean: what logits say whatever constant a row gets (log-probabilities
    from `F.log_softmax` are logits too)."""
    return logits - logits.mean(dim=-1, keepdim=True)


@pytest.mark.points(1)
@pytest.mark.property("graph batches")
@pytest.mark.forbid(*FORBIDDEN)
def test_graph_classifier_respects_batch(submission):
    """Graphs batched together (of 25 and 18 nodes) get the same logits as alone (a batch of one gives shape (1, C)), and as two
    disjoint copies of themselves (the mean pool); two graphs of different sizes given as one get the node-weighted mean of their
    logits (a mean pool, then a linear read-out); relabelling nodes changes nothing (eval mode, float64, on trusted layers)."""
    prop, hint = "graph batches", ("pool per graph with the batch vector, each graph's mean over its own nodes: one graph's nodes (or "
                                   "size) must not leak into another's output")
    data = graph_families(4, seed=13)  # graphs of 25, 25, 25 and 18 nodes: a pool by any one size shows
    model = on_trusted_layers(Build("GraphClassifier", 4, 8, 3))
    x = data["x"].double() + 0.5 * randn(*data["x"].shape, seed=2)
    perm = torch.randperm(len(x), generator=torch.Generator().manual_seed(0))
    x_p, edge_index_p = relabel(x, data["edge_index"], perm)

    def check(patch):
        weights = submission.run("state_dict", model=model, dtype=torch.float64, patch=patch)["state_dict"]

        inputs = [((x, data["edge_index"], data["batch"]), 4)]  # (the predict's args, how many graphs)
        for g in range(4):
            nodes = (data["batch"] == g).nonzero().flatten()
            keep = torch.isin(data["edge_index"][0], nodes)
            inputs.append(((x[nodes], data["edge_index"][:, keep] - nodes[0], torch.zeros(len(nodes), dtype=torch.long)), 1))
        (x0, edges0, _), _ = inputs[1]  # graph 0 alone, and as two disjoint copies of itself in one graph
        inputs.append(((torch.cat([x0, x0]), torch.cat([edges0, edges0 + len(x0)], 1), torch.zeros(2 * len(x0), dtype=torch.long)), 1))
        (x1, edges1, _), _ = inputs[4]  # graphs 0 and 3 (of other sizes) as one graph
        inputs.append(((torch.cat([x0, x1]), torch.cat([edges0, edges1 + len(x0)], 1), torch.zeros(len(x0) + len(x1), dtype=torch.long)), 1))
        inputs += [((x_p, edge_index_p, data["batch"][perm]), 4), ((x + 1.0, data["edge_index"], data["batch"]), 4)]
        # all sent at once: the judge checks one prediction while the worker computes the next
        results = run_each(submission, "predict", [dict(model=model, state_dict=weights, args=args, dtype=torch.float64) for args, _ in inputs],
                           patch=patch)
        logits = (checks.expect_tensor(result["output"], f"the logits of {graphs} graph(s)", prop, shape=(graphs, 3), dtype=torch.float64, hint=hint)
                  for (_, graphs), result in zip(inputs, results))
        together = next(logits)
        for g in range(4):
            checks.expect_close(next(logits), together[g:g + 1], f"graph {g}'s logits when it is alone", prop, hint=hint)
        checks.expect_close(next(logits), together[:1], "the logits of graph 0 given as two disjoint copies of itself (one graph)", prop,
                            hint="the read-out sees the MEAN of a graph's node vectors (global_mean_pool): a copy of every node changes no mean")
        n0, n1 = len(x0), len(x1)
        checks.expect_close(centred(next(logits)), centred((n0 * together[:1] + n1 * together[3:4]) / (n0 + n1)),
                            "the logits of graphs 0 and 3 given as one graph (each row less its mean)", prop,
                            hint="the read-out sees the MEAN of a graph's node vectors (global_mean_pool), then a linear layer: the mean over "
                                 "two graphs' nodes weighs each graph by its size")
        checks.expect_close(next(logits), together, "the logits after relabelling the nodes", prop, hint=hint)
        nontrivial(together, x, next(logits), prop, hint)

    own_then_trusted(check, TRUSTED_POOLING, submission)


# -- the three tasks ---------------------------------------------------------------------------
# The grader's own loops (autograder/worker/probes/gnn.py) train the student's GCN /
# GraphClassifier, on trusted layers, from weights the grader draws itself (`init_seed`), and
# return the weights.  Thresholds: every correct architecture meets them on every seed tried,
# a model that ignores the edges (or the batch) misses them — both measured in
# tests/test_gnn_oracles.py, which calls these functions (and bench/gnn_tasks.py, 10 seeds).

NODE_ACCURACY, LINK_AUC, GRAPH_ACCURACY = 0.9, 0.7, 0.9
#: Adam steps of each task: at 60, node and link prediction clear their thresholds on ten seeds with the margins of
#: docs/experiments.md; the graph task needs 150 (at 100 a one-layer GCN classifier missed 0.9 on one seed of ten).
NODE_STEPS = LINK_STEPS = 60
GRAPH_STEPS = 150
#: Untrained weights must score clearly worse (correct classifiers: about 1/3 on average).
UNTRAINED_GRAPH_ACCURACY, UNTRAINED_SEEDS = 0.6, (101, 102, 103, 104, 105)


def _weights(result: Any, prop: str, hint: str) -> tuple[dict, list[str]]:
    """The trained `state_dict` and parameter names a training probe returned, validated."""
    weights = checks.trained_weights(result, prop, hint)
    names = result.get("parameters")
    if not isinstance(names, list) or not all(isinstance(n, str) and n in weights for n in names):
        fail(prop, "training did not name the model's parameters", hint)
    return weights, names


def _lower(scores: dict[str, float]) -> tuple[float, str]:
    """The lowest of the named scores, and its name."""
    what = min(scores, key=scores.get)
    return scores[what], what


def node_accuracy(subject, init_seed: int = 0, evaluator=None) -> tuple[float, str]:
    """Held-out accuracy of a GCN trained on 20% of a block model's nodes: on the reference GCN
    (`evaluator`, default `subject`) and with the subject's own forward; the lower, and which."""
    prop, hint = "node classification", ""
    data = community_nodes(seed=0)
    model = Build("GCN", 3, 16, 3)
    trained = on_trusted_layers(model)
    result = subject.run("train_node_classifier", model=trained, x=data["x"], edge_index=data["edge_index"],
                         y_train=data["y"][data["train_mask"]], train_mask=data["train_mask"], steps=NODE_STEPS, lr=0.01,
                         init_seed=init_seed)
    weights, _ = _weights(result, prop, hint)
    args = (data["x"].double(), data["edge_index"])
    test = ~data["train_mask"]
    accuracy = {}
    for what, sub, built in (("on a GCN", evaluator or subject, model), ("with your GCN's forward", subject, trained)):
        logits = checks.evaluated_output(sub, model=built, weights=weights, args=args, dtype=torch.float64, prop=prop, hint=hint)
        if tuple(logits.shape) != (len(data["y"]), 3):
            fail(prop, f"the logits {what} have shape {tuple(logits.shape)}, expected {(len(data['y']), 3)}")
        accuracy[what] = accuracy_of(logits[test], data["y"][test])
    return _lower(accuracy)


def auc(positive: torch.Tensor, negative: torch.Tensor) -> float:
    """The probability that a held-out edge scores above a non-edge (ties count half; NaN never wins)."""
    diff = positive[:, None] - negative[None, :]
    return float((diff > 0).double().mean() + 0.5 * (diff == 0).double().mean())


def link_auc(subject, init_seed: int = 0, evaluator=None) -> tuple[float, str]:
    """AUC of held-out edges against as many non-edges, scored by dot products of the embeddings of
    a trained GCN encoder: on the reference (`evaluator`) and with the subject's own forward."""
    prop, hint = "link prediction", ""
    data = link_split(seed=0)
    model = Build("GCN", 4, 32, 16)
    trained = on_trusted_layers(model)
    result = subject.run("train_link_predictor", model=trained, x=data["x"], train_edge_index=data["train_edge_index"],
                         steps=LINK_STEPS, lr=0.01, init_seed=init_seed)
    weights, _ = _weights(result, prop, hint)
    args = (data["x"].double(), data["train_edge_index"])
    aucs = {}
    for what, sub, built in (("on a GCN", evaluator or subject, model), ("with your GCN's forward", subject, trained)):
        z = checks.evaluated_output(sub, model=built, weights=weights, args=args, dtype=torch.float64, prop=prop, hint=hint)
        if tuple(z.shape) != (data["x"].shape[0], 16):
            fail(prop, f"the embeddings {what} have shape {tuple(z.shape)}, expected {(data['x'].shape[0], 16)}")
        score = lambda pairs: (z[pairs[0]] * z[pairs[1]]).sum(-1)  # noqa: E731 — the judge's own dot products
        aucs[what] = auc(score(data["test_pos"]), score(data["test_neg"]))
    return _lower(aucs)


#: How `graph_accuracy` reorders the classes in the read-out (no class keeps its place).
RELABEL = torch.tensor([1, 2, 0])


class GraphScores(NamedTuple):
    """Held-out accuracies of a trained `GraphClassifier`: with the trained weights; with
    them and the classes reordered in the read-out (`RELABEL`, in the dimensions `moves_one_class` finds),
    scored against the labels reordered alike (0 when no parameter indexes the classes);
    and the mean over untrained weights drawn by the judge."""
    trained: float
    relabelled: float
    untrained: float


def nudged(weights: dict[str, torch.Tensor], name: str, dim: int) -> dict[str, torch.Tensor]:
    """`weights` with 1 added to entry 0 of parameter `name` along `dim`."""
    value = weights[name].clone()
    value.narrow(dim, 0, 1).add_(1.0)
    return {**weights, name: value}


def moves_one_class(before: torch.Tensor, after: torch.Tensor) -> bool:
    """Whether the logits `after` (a parameter nudged at index 0 of one dimension) moved class
    0's logit against the others and left the differences between the others as they were:
    the mark of a dimension that indexes the classes (a read-out's rows and bias, a per-class
    scale; also under log_softmax), not of one that only has their size (a per-layer mix of
    a 3-layer model)."""
    def others(logits: torch.Tensor) -> torch.Tensor:
        return logits[:, 1:] - logits[:, 1:2]

    def first(logits: torch.Tensor) -> torch.Tensor:
        return logits[:, 0] - logits[:, 1]

    if before.dtype != after.dtype:  # logits of another dtype for other weights follow no weights
        return False
    return (torch.allclose(others(after), others(before), rtol=1e-4, atol=1e-4)
            and not torch.allclose(first(after), first(before), rtol=1e-4, atol=1e-4))


def reordered(weights: dict[str, torch.Tensor], dims: list[tuple[str, int]], order: torch.Tensor) -> dict[str, torch.Tensor]:
    """`weights` with each (parameter, dimension) of `dims` reordered by `order`: logit column
    c of a model whose logits come from those entries becomes its column order[c]."""
    weights = dict(weights)
    for name, dim in dims:
        weights[name] = weights[name].index_select(dim, order)
    return weights


#: the most parameter dimensions of the class count the read-out is looked for among (a read-out has two: weight and bias)
MOST_READOUT_CANDIDATES = 32


def graph_accuracy(subject, init_seed: int = 0, patch: dict | None = None) -> GraphScores:
    """Held-out accuracy of a GraphClassifier(4, 32, 3) trained on hairy cycles: with the trained
    weights, with the classes reordered in their read-out, and (the mean) with untrained ones
    drawn by the judge — all through the subject's own forward, in fresh calls given the
    held-out graphs only (their labels stay here).

    The read-out is found by what it does, not by its name or shape: every parameter
    dimension of the class count is nudged at index 0, and those that move class 0's logit
    alone (`moves_one_class`) are the ones reordered.  A forward that computes its logits
    with its weights follows the reordering; one that switches to a rule of its own for the
    trained weights (or for any it has seen) does not."""
    prop, hint = "graph classification", ""
    train, held_out = graph_families(120, seed=0), graph_families(60, seed=1)
    model = on_trusted_layers(Build("GraphClassifier", 4, 32, 3))
    result = subject.run("train_graph_classifier", model=model, x=train["x"], edge_index=train["edge_index"], batch=train["batch"],
                         y=train["y"], steps=GRAPH_STEPS, lr=0.01, init_seed=init_seed, patch=patch)
    weights, parameters = _weights(result, prop, hint)
    args = (held_out["x"], held_out["edge_index"], held_out["batch"])

    def logits_of(result: dict) -> torch.Tensor:
        logits = checks.expect_tensor(result["output"], "the logits of the held-out graphs", prop, finite=False, hint=hint)
        if tuple(logits.shape) != (60, 3):
            fail(prop, f"the logits of 60 held-out graphs have shape {tuple(logits.shape)}, expected (60, 3)", hint)
        if not logits.is_floating_point():
            fail(prop, f"the logits of the held-out graphs have dtype {logits.dtype}: logits are floating-point scores, one per class", hint)
        return logits

    def predictions(states: list[dict]) -> list[torch.Tensor]:
        # all sent at once: the judge checks one prediction while the worker computes the next
        return [logits_of(result) for result in run_each(subject, "predict", [dict(model=model, state_dict=w, args=args) for w in states],
                                                         patch=patch)]

    floating = [name for name in parameters if weights[name].is_floating_point()]  # only these are drawn or nudged
    shapes = {name: tuple(weights[name].shape) for name in floating}
    dtype = weights[floating[0]].dtype if floating else torch.float32
    candidates = [(name, dim) for name in floating for dim, size in enumerate(weights[name].shape) if size == len(RELABEL)]
    if len(candidates) > MOST_READOUT_CANDIDATES:  # each is a copy of the weights and a prediction: bounded
        fail(prop, f"the classifier has {len(candidates)} parameter dimensions of the class count ({len(RELABEL)}); the grader "
                   f"looks for the read-out among at most {MOST_READOUT_CANDIDATES}", "a linear read-out of the pooled vector gives the logits")
    trained, *rest = predictions([weights, *(nudged(weights, name, dim) for name, dim in candidates),
                                  *({**weights, **seeded_weights(shapes, seed, dtype)} for seed in UNTRAINED_SEEDS)])
    moved, untrained = rest[:len(candidates)], rest[len(candidates):]
    dims = [candidate for candidate, after in zip(candidates, moved) if moves_one_class(trained, after)]
    relabelled_accuracy = 0.0
    if dims:
        # column c of the relabelled logits is the trained model's column RELABEL[c]: put each back in its place
        logits = predictions([reordered(weights, dims, RELABEL)])[0]
        relabelled_accuracy = accuracy_of(logits.index_select(1, torch.argsort(RELABEL)), held_out["y"])
    untrained_accuracy = sum(accuracy_of(logits, held_out["y"]) for logits in untrained) / len(untrained)
    return GraphScores(accuracy_of(trained, held_out["y"]), relabelled_accuracy, untrained_accuracy)


@pytest.mark.points(2)
@pytest.mark.property("node classification")
@pytest.mark.forbid(*FORBIDDEN)
def test_node_classification(reference, submission):
    """Your GCN, trained on 20% of a block model's nodes, labels the others (≥ 90%; features alone ≈ 55%)."""
    value, what = node_accuracy(submission, evaluator=reference)
    checks.reaches(value, NODE_ACCURACY, f"held-out node accuracy {what}", "node classification",
                   "pass edge_index to every layer: messages from the neighbours (same community) average the noise away")


@pytest.mark.points(2)
@pytest.mark.property("link prediction")
@pytest.mark.forbid(*FORBIDDEN)
def test_link_prediction(reference, submission):
    """Your GCN's embeddings rank held-out edges above non-edges by dot product (AUC ≥ 0.70; without edges ≈ 0.6)."""
    value, what = link_auc(submission, evaluator=reference)
    checks.reaches(value, LINK_AUC, f"held-out AUC {what}", "link prediction",
                   "pass edge_index to every layer: nodes with shared neighbours get similar embeddings, so a high dot product")


@pytest.mark.points(2)
@pytest.mark.property("graph classification")
@pytest.mark.forbid(*FORBIDDEN)
def test_graph_classification(submission):
    """Your GraphClassifier tells apart cycles whose leaves hang in 2, 3 or 6 runs, from one-hot degrees and the edges (≥ 90%;
    without edges or batch 1/3), and its trained weights are what makes it right."""
    prop = "graph classification"
    hint = ("every class has the same degrees: only who neighbours whom (seen through message passing along edge_index) tells them apart; "
            "pool per graph with `batch`")

    def check(patch):
        scores = graph_accuracy(submission, patch=patch)
        checks.reaches(scores.trained, GRAPH_ACCURACY, "held-out graph accuracy", prop, hint)
        ignores = "the prediction must come from the model's layers and read-out, not from code that ignores the weights"
        if scores.relabelled < GRAPH_ACCURACY:
            fail(prop, f"with the classes reordered in the trained read-out (the weights that move one class's logit alone), the "
                       f"predictions did not follow: held-out accuracy {scores.relabelled:.2f} against the reordered labels — {ignores}",
                 "compute the logits with your layers and your linear read-out only")
        if scores.untrained > UNTRAINED_GRAPH_ACCURACY:
            fail(prop, f"with untrained weights the held-out graph accuracy is already {scores.untrained:.2f} (correct classifiers: "
                       f"about 0.33): {ignores}", "compute the logits with your layers and your linear read-out only")

    own_then_trusted(check, TRUSTED_POOLING, submission)
