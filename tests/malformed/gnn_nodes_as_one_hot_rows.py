"""an honest bug: edge_index_from_networkx returns the nodes' one-hot rows (a list of tensors) for `nodes` — comparing them with the graph's labels raised in the judge (a hostile audit, 2026-12-05: a grader error that asks for a rerun, every time).

Assignment 4 — graph neural networks: message passing.

Many data are graphs: nodes (people, atoms, papers) and edges (friendships, bonds,
citations).  A message-passing layer updates every node from its own features and the
*messages* its neighbours send along the edges; the same weights serve every node, so a
layer works on graphs of any size, and relabelling the nodes just relabels the outputs
(permutation equivariance).  Stacking k layers spreads information k hops — and no
further (locality).  From the node embeddings come the three classic tasks: node
classification, link prediction (score pairs of nodes), graph classification (pool the
nodes of each graph).

Graphs are `edge_index` tensors `(2, E)`: messages flow from `edge_index[0]` (source)
to `edge_index[1]` (target), as in PyTorch Geometric.  Forbidden here:
`torch_geometric`, `torch_scatter`, `torch_sparse`.
"""

from __future__ import annotations

import networkx as nx
import torch
import torch.nn as nn


def edge_index_from_networkx(G: nx.Graph) -> tuple[torch.Tensor, list]:
    r"""The edges of a networkx graph as an `edge_index`.

    An undirected graph's edges appear in both directions, a directed graph's as given; a
    self loop appears once.  Node i is ``nodes[i]``, with ``nodes = list(G.nodes)``.

    Returns:
        ``(edge_index, nodes)``: a LongTensor :math:`(2, E)` and the node order used.

    Example:
        >>> edge_index, nodes = edge_index_from_networkx(nx.path_graph(3))
        >>> edge_index.shape
        torch.Size([2, 4])
    """
    # Hint: map each node to its position in list(G.nodes); add the reverse of every undirected edge (not of a self loop).
    ### BEGIN SOLUTION
    nodes = list(G.nodes)
    position = {node: i for i, node in enumerate(nodes)}
    pairs = []
    for u, v in G.edges():
        pairs.append((position[u], position[v]))
        if not G.is_directed() and u != v:
            pairs.append((position[v], position[u]))
    edge_index = torch.tensor(pairs, dtype=torch.long).reshape(-1, 2).T  # (2, E)
    return edge_index.contiguous(), list(torch.eye(len(nodes)))  # bug: the nodes' one-hot rows
    ### END SOLUTION


def add_self_loops(edge_index: torch.Tensor, num_nodes: int) -> torch.Tensor:
    r"""Adds a loop :math:`(i, i)` to every node that has none (as `GCNConv` does).

    Shape:
        - Input: :math:`(2, E)`; Output: :math:`(2, E')` with :math:`E' = E + ` (nodes without a loop).

    Example:
        >>> add_self_loops(torch.tensor([[0], [1]]), 2).tolist()
        [[0, 0, 1], [1, 0, 1]]
    """
    # Hint: find the nodes that already have a loop (source == target), append (i, i) for all the others.
    ### BEGIN SOLUTION
    has_loop = torch.zeros(num_nodes, dtype=torch.bool)
    loops = edge_index[0] == edge_index[1]
    has_loop[edge_index[0, loops]] = True
    missing = torch.arange(num_nodes)[~has_loop]
    return torch.cat([edge_index, missing.repeat(2, 1)], dim=1)
    ### END SOLUTION


def degree(index: torch.Tensor, num_nodes: int) -> torch.Tensor:
    r"""How often each node occurs in ``index`` (e.g. ``edge_index[1]``: the in-degree).

    Returns:
        A float tensor :math:`(\text{num\_nodes},)`.

    Example:
        >>> degree(torch.tensor([0, 2, 2]), 4)
        tensor([1., 0., 2., 0.])
    """
    # Hint: add a one for every occurrence (index_add_ or bincount with minlength).
    ### BEGIN SOLUTION
    return torch.zeros(num_nodes).index_add_(0, index, torch.ones(index.shape[0]))
    ### END SOLUTION


def scatter(src: torch.Tensor, index: torch.Tensor, num_nodes: int, reduce: str = "sum") -> torch.Tensor:
    r"""Combines the rows of ``src`` that go to the same node: ``out[index[e]] ⊕= src[e]``.

    Args:
        src: :math:`(E, F)` or :math:`(E,)` — one row per edge (message).
        index: :math:`(E,)` — the node each row goes to.
        num_nodes: number of output rows.
        reduce: ``"sum"``, ``"mean"`` or ``"max"``.

    Returns:
        :math:`(\text{num\_nodes}, F)` or :math:`(\text{num\_nodes},)`; nodes that receive
        nothing get zeros (also for ``"max"``).

    Example:
        >>> scatter(torch.tensor([1.0, 2.0, 5.0]), torch.tensor([0, 0, 2]), 3, "max")
        tensor([2., 0., 5.])
    """
    # Hint: sum with index_add; mean = sum / count (at least 1); max with scatter_reduce("amax", include_self=False) starting from zeros.
    ### BEGIN SOLUTION
    shape = (num_nodes, *src.shape[1:])
    if reduce in ("sum", "mean"):
        out = src.new_zeros(shape).index_add(0, index, src)
        if reduce == "mean":
            count = torch.zeros(num_nodes, dtype=src.dtype).index_add_(0, index, torch.ones(index.shape[0], dtype=src.dtype))
            out = out / count.clamp(min=1).view(-1, *([1] * (src.dim() - 1)))
        return out
    if reduce == "max":
        expanded = index.view(-1, *([1] * (src.dim() - 1))).expand_as(src)
        return src.new_zeros(shape).scatter_reduce(0, expanded, src, reduce="amax", include_self=False)
    raise ValueError(f"unknown reduce {reduce!r}")
    ### END SOLUTION


class MessagePassing(nn.Module):
    r"""The message-passing template (as in PyTorch Geometric).

    ``propagate(edge_index, x, **kwargs)`` computes, for every edge :math:`j \to i`,
    ``message(x_i=x[i], x_j=x[j], **kwargs)``, combines the messages arriving at each node
    with ``aggregate`` (``scatter`` with ``self.aggr``), and returns ``update(aggr_out, x)``.
    A layer overrides only what differs; its ``message`` may list ``x_i``, ``x_j`` and the
    per-edge arguments in any order (``message(self, x_j, x_i, norm)``), so all are passed by keyword.

    Args:
        aggr: ``"sum"``, ``"mean"`` or ``"max"``.

    Shape:
        - x: :math:`(N, F)`; edge_index: :math:`(2, E)`; per-edge kwargs: :math:`(E, ...)`.
        - Output of ``propagate``: :math:`(N, F')`.
    """

    def __init__(self, aggr: str = "sum") -> None:
        super().__init__()
        self.aggr = aggr

    def propagate(self, edge_index: torch.Tensor, x: torch.Tensor, **kwargs) -> torch.Tensor:
        # Hint: source = edge_index[0], target = edge_index[1]; call self.message, self.aggregate (at the target) and self.update — a subclass may override any of them.
        ### BEGIN SOLUTION
        source, target = edge_index
        messages = self.message(x_i=x[target], x_j=x[source], **kwargs)  # (E, F)
        return self.update(self.aggregate(messages, target, x.shape[0]), x)
        ### END SOLUTION

    def message(self, x_i: torch.Tensor, x_j: torch.Tensor, **kwargs) -> torch.Tensor:
        return x_j

    def aggregate(self, messages: torch.Tensor, index: torch.Tensor, num_nodes: int) -> torch.Tensor:
        return scatter(messages, index, num_nodes, self.aggr)

    def update(self, aggr_out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        return aggr_out


class GCNLayer(MessagePassing):
    r"""Graph convolution (Kipf & Welling): :math:`X' = \hat D^{-1/2} (A + I) \hat D^{-1/2} X W + b`.

    :math:`\hat D` counts each node's incoming edges after self loops are added, so the
    message :math:`j \to i` is :math:`x_j W / \sqrt{\hat d_j \hat d_i}`.  Equal to
    ``torch_geometric.nn.GCNConv`` given the same weights.

    Args:
        in_channels, out_channels: feature sizes; bias: add a learnable bias after aggregation.

    Shape:
        - Input: x :math:`(N, F_{in})`, edge_index :math:`(2, E)`; Output: :math:`(N, F_{out})`.

    Attributes:
        lin: ``nn.Linear(in_channels, out_channels, bias=False)``; bias: :math:`(F_{out},)`.

    Example:
        >>> GCNLayer(3, 8)(torch.randn(4, 3), torch.tensor([[0, 1], [1, 2]])).shape
        torch.Size([4, 8])
    """

    def __init__(self, in_channels: int, out_channels: int, bias: bool = True) -> None:
        super().__init__(aggr="sum")
        self.lin = nn.Linear(in_channels, out_channels, bias=False)
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        # Hint: add self loops, take the degree of each TARGET (in x's dtype), weight edge j→i by 1/sqrt(deg_j deg_i), propagate lin(x), add the bias.
        ### BEGIN SOLUTION
        n = x.shape[0]
        edge_index = add_self_loops(edge_index, n)
        deg = degree(edge_index[1], n).to(x.dtype)  # (N,), ≥ 1 thanks to the loops
        inv_sqrt = deg.pow(-0.5)
        norm = inv_sqrt[edge_index[0]] * inv_sqrt[edge_index[1]]  # (E,)
        out = self.propagate(edge_index, self.lin(x), norm=norm)  # (N, F_out)
        return out if self.bias is None else out + self.bias

    def message(self, x_i: torch.Tensor, x_j: torch.Tensor, norm: torch.Tensor) -> torch.Tensor:
        return norm.unsqueeze(-1) * x_j  # (E, F_out)
        ### END SOLUTION


class SAGELayer(MessagePassing):
    r"""GraphSAGE with mean aggregation: :math:`x_i' = W_l \cdot \mathrm{mean}_{j \to i} x_j + b + W_r x_i`.

    Equal to ``torch_geometric.nn.SAGEConv(aggr="mean")`` given the same weights; a node
    without incoming edges gets a zero mean.

    Args:
        in_channels, out_channels: feature sizes; bias: the bias of ``lin_l``.

    Shape:
        - Input: x :math:`(N, F_{in})`, edge_index :math:`(2, E)`; Output: :math:`(N, F_{out})`.

    Attributes:
        lin_l: ``nn.Linear(in, out, bias=bias)`` for the neighbours; lin_r: ``nn.Linear(in, out, bias=False)`` for the node itself.

    Example:
        >>> SAGELayer(3, 8)(torch.randn(4, 3), torch.tensor([[0, 1], [1, 2]])).shape
        torch.Size([4, 8])
    """

    def __init__(self, in_channels: int, out_channels: int, bias: bool = True) -> None:
        super().__init__(aggr="mean")
        # Hint: two linear maps named lin_l (neighbours, with the bias) and lin_r (the node itself, no bias).
        ### BEGIN SOLUTION
        self.lin_l = nn.Linear(in_channels, out_channels, bias=bias)
        self.lin_r = nn.Linear(in_channels, out_channels, bias=False)
        ### END SOLUTION

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        # Hint: the mean of the incoming neighbours' features (propagate), then both linear maps.
        ### BEGIN SOLUTION
        return self.lin_l(self.propagate(edge_index, x)) + self.lin_r(x)  # (N, F_out)
        ### END SOLUTION


def global_mean_pool(x: torch.Tensor, batch: torch.Tensor, num_graphs: int | None = None) -> torch.Tensor:
    r"""The mean of the node features of each graph in a batch.

    Args:
        x: :math:`(N, F)` node features of all graphs.
        batch: :math:`(N,)` the graph of each node.
        num_graphs: default ``batch.max() + 1``; graphs with no node get zeros.

    Returns:
        :math:`(\text{num\_graphs}, F)`.

    Example:
        >>> global_mean_pool(torch.tensor([[1.0], [3.0], [5.0]]), torch.tensor([0, 0, 1]))
        tensor([[2.],
                [5.]])
    """
    # Hint: a mean scatter of the nodes into their graphs.
    ### BEGIN SOLUTION
    if num_graphs is None:
        num_graphs = int(batch.max()) + 1 if batch.numel() else 0
    return scatter(x, batch, num_graphs, "mean")
    ### END SOLUTION


class GCN(nn.Module):
    r"""``num_layers`` `GCNLayer` s with ReLU between them (none after the last).

    Args:
        in_channels, hidden_channels, out_channels: feature sizes; num_layers: ≥ 1.

    Shape:
        - Input: x :math:`(N, F_{in})`, edge_index :math:`(2, E)`; Output: :math:`(N, F_{out})`.

    Attributes:
        layers: ``nn.ModuleList`` of the layers.

    Example:
        >>> GCN(3, 16, 2)(torch.randn(5, 3), torch.tensor([[0, 1], [1, 2]])).shape
        torch.Size([5, 2])
    """

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int, num_layers: int = 2) -> None:
        super().__init__()
        # Hint: sizes in → hidden → ... → hidden → out, one GCNLayer per step.
        ### BEGIN SOLUTION
        sizes = [in_channels] + [hidden_channels] * (num_layers - 1) + [out_channels]
        self.layers = nn.ModuleList(GCNLayer(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        ### END SOLUTION

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        # Hint: ReLU between layers, not after the last one.
        ### BEGIN SOLUTION
        for i, layer in enumerate(self.layers):
            x = layer(x, edge_index)
            if i < len(self.layers) - 1:
                x = torch.relu(x)
        return x
        ### END SOLUTION


def link_scores(z: torch.Tensor, pairs: torch.Tensor) -> torch.Tensor:
    r"""Dot-product scores of node pairs: :math:`s_p = z_{u_p} \cdot z_{v_p}`.

    Shape:
        - z: :math:`(N, F)`; pairs: :math:`(2, P)`; Output: :math:`(P,)`.

    Example:
        >>> link_scores(torch.eye(3), torch.tensor([[0, 1], [0, 2]]))
        tensor([1., 0.])
    """
    # Hint: gather both endpoints' embeddings and take the row-wise dot product.
    ### BEGIN SOLUTION
    return (z[pairs[0]] * z[pairs[1]]).sum(dim=-1)  # (P,)
    ### END SOLUTION


class GraphClassifier(nn.Module):
    r"""Classifies whole graphs: message-passing layers, `global_mean_pool`, a linear read-out.

    Which layers is your choice (`GCNLayer` s, `SAGELayer` s or a mix, with ReLU between);
    this one uses two `GCNLayer` s.  The grader trains it on graphs whose classes differ
    only in how the nodes are connected (node features: one-hot degrees, the same in every
    class), so the prediction must come from message passing along ``edge_index``, pooled
    per graph with ``batch``.

    Args:
        in_channels, hidden_channels: feature sizes; num_classes: C.

    Shape:
        - Input: x :math:`(N, F)` of all graphs, edge_index :math:`(2, E)`, batch :math:`(N,)`.
        - Output: :math:`(\text{num\_graphs}, C)` logits (also for a single graph: :math:`(1, C)`).

    Example:
        >>> model = GraphClassifier(4, 16, 3)
        >>> model(torch.eye(4)[[1, 2, 1, 1, 1]], torch.tensor([[0, 1, 3], [1, 2, 4]]), torch.tensor([0, 0, 0, 1, 1])).shape
        torch.Size([2, 3])
    """

    def __init__(self, in_channels: int, hidden_channels: int, num_classes: int) -> None:
        super().__init__()
        # Hint: message-passing layers for the nodes (GCNLayer, SAGELayer or a mix), a linear layer for the pooled graph.
        ### BEGIN SOLUTION
        self.conv1 = GCNLayer(in_channels, hidden_channels)
        self.conv2 = GCNLayer(hidden_channels, hidden_channels)
        self.readout = nn.Linear(hidden_channels, num_classes)
        ### END SOLUTION

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor, batch: torch.Tensor) -> torch.Tensor:
        # Hint: node embeddings → mean per graph (respect `batch`) → read-out.
        ### BEGIN SOLUTION
        h = torch.relu(self.conv1(x, edge_index))
        h = torch.relu(self.conv2(h, edge_index))  # (N, hidden)
        return self.readout(global_mean_pool(h, batch))  # (num_graphs, C)
        ### END SOLUTION
