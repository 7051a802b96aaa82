"""CORRECT: sparse adjacency products (torch.sparse) in the layers, scatter_add_ / sort-based max, GCN layers appended one by one, and a three-layer GraphClassifier mixing GCN layers and a residual subclass of SAGELayer (no ReLU after the last one) with a read-out named `head`."""

import networkx as nx
import torch
import torch.nn as nn


def edge_index_from_networkx(G):
    nodes = list(G.nodes)
    index = {v: i for i, v in enumerate(nodes)}
    rows = []
    for u, v in G.edges():
        rows.append([index[u], index[v]])
        if u != v and not isinstance(G, nx.DiGraph):
            rows.append([index[v], index[u]])
    return torch.as_tensor(rows, dtype=torch.long).reshape(len(rows), 2).T.contiguous(), nodes


def add_self_loops(edge_index, num_nodes):
    keep = torch.ones(num_nodes, dtype=torch.bool)
    keep[edge_index[1][edge_index[0] == edge_index[1]]] = False
    new = keep.nonzero(as_tuple=True)[0]
    return torch.cat((edge_index, torch.stack((new, new))), dim=1)


def degree(index, num_nodes):
    out = torch.zeros(num_nodes)
    return out.scatter_add_(0, index, torch.ones_like(index, dtype=out.dtype))


def scatter(src, index, num_nodes, reduce="sum"):
    trailing = src.shape[1:]
    idx = index.reshape(-1, *([1] * len(trailing))).expand(src.shape)
    if reduce == "max":
        out = src.new_zeros(num_nodes, *trailing)
        if src.shape[0] == 0:
            return out
        order = torch.argsort(index, stable=True)
        for node in index.unique().tolist():
            out[node] = src[order][index[order] == node].amax(dim=0)
        return out
    out = src.new_zeros(num_nodes, *trailing).scatter_add_(0, idx, src)
    if reduce == "mean":
        count = src.new_zeros(num_nodes).scatter_add_(0, index, src.new_ones(index.shape[0]))
        out = out / count.clamp(min=1).reshape(-1, *([1] * len(trailing)))
    return out


class MessagePassing(nn.Module):
    def __init__(self, aggr="sum"):
        super().__init__()
        self.aggr = aggr

    def propagate(self, edge_index, x, **kwargs):
        x_j, x_i = x[edge_index[0]], x[edge_index[1]]
        return self.update(self.aggregate(self.message(x_i=x_i, x_j=x_j, **kwargs), edge_index[1], len(x)), x)

    def message(self, x_i, x_j, **kwargs):
        return x_j

    def aggregate(self, messages, index, num_nodes):
        return scatter(messages, index, num_nodes, self.aggr)

    def update(self, aggr_out, x):
        return aggr_out


def _adjacency(edge_index, n, values, dtype):
    """Sparse (n, n) matrix with A[target, source] = value (duplicates add up)."""
    return torch.sparse_coo_tensor(edge_index.flip(0), values.to(dtype), (n, n), check_invariants=True).coalesce()


class GCNLayer(MessagePassing):
    def __init__(self, in_channels, out_channels, bias=True):
        super().__init__(aggr="sum")
        self.lin = nn.Linear(in_channels, out_channels, bias=False)
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None

    def _normalised(self, edge_index, n, dtype):
        looped = add_self_loops(edge_index, n)
        d = degree(looped[1], n).to(dtype).pow(-0.5)
        return _adjacency(looped, n, d[looped[0]] * d[looped[1]], dtype)

    def forward(self, x, edge_index):
        out = torch.sparse.mm(self._normalised(edge_index, x.shape[0], x.dtype), self.lin(x))
        return out + self.bias if self.bias is not None else out


class SAGELayer(MessagePassing):
    def __init__(self, in_channels, out_channels, bias=True):
        super().__init__(aggr="mean")
        self.lin_r = nn.Linear(in_channels, out_channels, bias=False)
        self.lin_l = nn.Linear(in_channels, out_channels, bias=bias)

    def forward(self, x, edge_index):
        n = x.shape[0]
        A = _adjacency(edge_index, n, torch.ones(edge_index.shape[1]), x.dtype)
        count = torch.sparse.sum(A, dim=1).to_dense() if edge_index.shape[1] else x.new_zeros(n)
        mean = torch.sparse.mm(A, x) / count.clamp(min=1).unsqueeze(1)
        return self.lin_r(x) + self.lin_l(mean)


def global_mean_pool(x, batch, num_graphs=None):
    if num_graphs is None:
        num_graphs = batch.max().item() + 1
    return scatter(x, batch, num_graphs, reduce="mean")


class GCN(nn.Module):
    def __init__(self, in_channels, hidden_channels, out_channels, num_layers=2):
        super().__init__()
        self.layers = nn.ModuleList()
        width = in_channels
        for _ in range(num_layers - 1):
            self.layers.append(GCNLayer(width, hidden_channels))
            width = hidden_channels
        self.layers.append(GCNLayer(width, out_channels))

    def forward(self, x, edge_index):
        *hidden, last = self.layers
        for layer in hidden:
            x = layer(x, edge_index).relu()
        return last(x, edge_index)


def link_scores(z, pairs):
    return torch.bmm(z[pairs[0]].unsqueeze(1), z[pairs[1]].unsqueeze(2)).reshape(-1)


class _ResidualSAGE(SAGELayer):
    """A SAGE layer that adds its input back (a residual connection)."""

    def forward(self, x, edge_index):
        return super().forward(x, edge_index) + x


class GraphClassifier(nn.Module):
    def __init__(self, in_channels, hidden_channels, num_classes):
        super().__init__()
        self.gcn_in = GCNLayer(in_channels, hidden_channels)
        self.sage = _ResidualSAGE(hidden_channels, hidden_channels)
        self.gcn_out = GCNLayer(hidden_channels, hidden_channels)
        self.head = nn.Linear(hidden_channels, num_classes)

    def forward(self, x, edge_index, batch):
        h = self.gcn_in(x, edge_index).relu()
        h = self.sage(h, edge_index).relu()
        h = self.gcn_out(h, edge_index)
        return self.head(global_mean_pool(h, batch))
