"""CORRECT: index_add_ and scatter_reduce, the GCN norm as a per-edge keyword, and torch_geometric named in a docstring and a comment but never imported (an outside audit's style)."""
from __future__ import annotations
import networkx as nx
import torch
import torch.nn as nn


def edge_index_from_networkx(G):
    nodes = list(G.nodes)
    pos = {n: i for i, n in enumerate(nodes)}
    src, dst = [], []
    for u, v in G.edges():
        src.append(pos[u]); dst.append(pos[v])
        if not G.is_directed() and u != v:
            src.append(pos[v]); dst.append(pos[u])
    return torch.tensor([src, dst], dtype=torch.long).reshape(2, -1), nodes


def add_self_loops(edge_index, num_nodes):
    loops = edge_index[0] == edge_index[1]
    has = torch.zeros(num_nodes, dtype=torch.bool, device=edge_index.device)
    has[edge_index[0, loops]] = True
    missing = torch.arange(num_nodes, device=edge_index.device)[~has]
    return torch.cat([edge_index, missing.unsqueeze(0).repeat(2, 1)], dim=1)


def degree(index, num_nodes):
    out = torch.zeros(num_nodes, dtype=torch.get_default_dtype(), device=index.device)
    return out.index_add_(0, index, torch.ones(index.numel(), dtype=out.dtype, device=index.device))


def scatter(src, index, num_nodes, reduce="sum"):
    shape = (num_nodes,) + tuple(src.shape[1:])
    out = torch.zeros(shape, dtype=src.dtype, device=src.device)
    if reduce == "sum":
        return out.index_add(0, index, src)
    if reduce == "mean":
        s = out.index_add(0, index, src)
        cnt = torch.zeros(num_nodes, dtype=src.dtype, device=src.device).index_add(0, index, torch.ones_like(index, dtype=src.dtype))
        return s / cnt.clamp(min=1).view(-1, *([1] * (src.dim() - 1)))
    if reduce == "max":
        idx = index.view(-1, *([1] * (src.dim() - 1))).expand_as(src)
        return out.scatter_reduce(0, idx, src, reduce="amax", include_self=False)
    raise ValueError(reduce)


class MessagePassing(nn.Module):
    def __init__(self, aggr="sum"):
        super().__init__()
        self.aggr = aggr

    def propagate(self, edge_index, x, **kwargs):
        source, target = edge_index[0], edge_index[1]
        messages = self.message(x_i=x[target], x_j=x[source], **kwargs)
        aggr_out = self.aggregate(messages, target, x.shape[0])
        return self.update(aggr_out, x)

    def message(self, x_i, x_j, **kwargs):
        return x_j

    def aggregate(self, messages, index, num_nodes):
        return scatter(messages, index, num_nodes, self.aggr)

    def update(self, aggr_out, x):
        return aggr_out


class GCNLayer(MessagePassing):
    """Same result as torch_geometric.nn.GCNConv (checked against it at home; not imported here)."""

    # note: torch_geometric.utils.add_remaining_self_loops behaves like our add_self_loops
    def __init__(self, in_channels, out_channels, bias=True):
        super().__init__(aggr="sum")
        self.lin = nn.Linear(in_channels, out_channels, bias=False)
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None

    def forward(self, x, edge_index):
        n = x.shape[0]
        ei = add_self_loops(edge_index, n)
        deg = degree(ei[1], n).to(x.dtype)
        dinv = deg.pow(-0.5)
        dinv[torch.isinf(dinv)] = 0
        norm = dinv[ei[0]] * dinv[ei[1]]
        out = self.propagate(ei, self.lin(x), norm=norm)
        if self.bias is not None:
            out = out + self.bias
        return out

    def message(self, x_i, x_j, norm=None):
        return norm.unsqueeze(-1) * x_j


class SAGELayer(MessagePassing):
    def __init__(self, in_channels, out_channels, bias=True):
        super().__init__(aggr="mean")
        self.lin_l = nn.Linear(in_channels, out_channels, bias=bias)
        self.lin_r = nn.Linear(in_channels, out_channels, bias=False)

    def forward(self, x, edge_index):
        return self.lin_l(self.propagate(edge_index, x)) + self.lin_r(x)


def global_mean_pool(x, batch, num_graphs=None):
    if num_graphs is None:
        num_graphs = int(batch.max()) + 1 if batch.numel() else 0
    return scatter(x, batch, num_graphs, "mean")


class GCN(nn.Module):
    def __init__(self, in_channels, hidden_channels, out_channels, num_layers=2):
        super().__init__()
        sizes = [in_channels] + [hidden_channels] * (num_layers - 1) + [out_channels]
        self.layers = nn.ModuleList(GCNLayer(a, b) for a, b in zip(sizes[:-1], sizes[1:]))

    def forward(self, x, edge_index):
        for i, layer in enumerate(self.layers):
            x = layer(x, edge_index)
            if i < len(self.layers) - 1:
                x = torch.relu(x)
        return x


def link_scores(z, pairs):
    return (z[pairs[0]] * z[pairs[1]]).sum(dim=-1)


class GraphClassifier(nn.Module):
    def __init__(self, in_channels, hidden_channels, num_classes):
        super().__init__()
        self.conv1 = GCNLayer(in_channels, hidden_channels)
        self.conv2 = GCNLayer(hidden_channels, hidden_channels)
        self.readout = nn.Linear(hidden_channels, num_classes)

    def forward(self, x, edge_index, batch):
        h = torch.relu(self.conv1(x, edge_index))
        h = torch.relu(self.conv2(h, edge_index))
        return self.readout(global_mean_pool(h, batch))
