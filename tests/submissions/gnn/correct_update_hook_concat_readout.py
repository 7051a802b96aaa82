"""CORRECT: layers work in update() (no forward of their own), read-out of both layers' pooled embeddings.

Graph neural networks — PyG idioms: forward in the base class, work in update().

Style: MessagePassing has a default forward(x, edge_index) = propagate; SAGELayer does not
override forward at all — its linear maps live in update(aggr_out, x); GCNLayer adds its
bias in update and builds its per-edge weight from a dense degree vector made with a
sparse-to-dense sum; scatter with index_add (sum, mean with bincount counts) and
torch.Tensor.index_reduce for max; global_mean_pool calls scatter(..., "mean")
on an explicit graph count; the GraphClassifier (GCN, SAGE) reads out the concatenation of
each layer's pooled embeddings ("jumping knowledge" by concatenation: one nn.Linear(2H, C)).
"""

from __future__ import annotations

import networkx as nx
import torch
import torch.nn as nn
import torch.nn.functional as F


def edge_index_from_networkx(G: nx.Graph) -> tuple[torch.Tensor, list]:
    nodes = list(G.nodes)
    idx = {v: i for i, v in enumerate(nodes)}
    fwd = torch.tensor([[idx[u], idx[v]] for u, v in G.edges()], dtype=torch.long).reshape(-1, 2)
    if not G.is_directed():
        not_loop = fwd[:, 0] != fwd[:, 1]
        fwd = torch.cat([fwd, fwd[not_loop].flip(1)], dim=0)
    return fwd.T.contiguous(), nodes


def add_self_loops(edge_index: torch.Tensor, num_nodes: int) -> torch.Tensor:
    loop_count = torch.zeros(num_nodes, dtype=torch.long)
    is_loop = edge_index[0] == edge_index[1]
    loop_count.scatter_add_(0, edge_index[0][is_loop], torch.ones(int(is_loop.sum()), dtype=torch.long))
    fresh = torch.arange(num_nodes)[loop_count == 0]
    return torch.cat([edge_index, fresh.expand(2, -1)], dim=1)


def degree(index: torch.Tensor, num_nodes: int) -> torch.Tensor:
    values = torch.ones(index.numel(), dtype=torch.get_default_dtype())
    return torch.sparse_coo_tensor(index.view(1, -1), values, (num_nodes,)).to_dense()


def scatter(src: torch.Tensor, index: torch.Tensor, num_nodes: int, reduce: str = "sum") -> torch.Tensor:
    tail = src.shape[1:]
    flat = src.unsqueeze(1) if src.dim() == 1 else src.flatten(1)  # (E, F)
    if reduce in ("sum", "mean"):
        out = flat.new_zeros(num_nodes, flat.shape[1]).index_add(0, index, flat)
        if reduce == "mean":
            seen = torch.bincount(index, minlength=num_nodes).to(src.dtype)
            out = out / seen.clamp(min=1).unsqueeze(1)
    elif reduce == "max":
        out = flat.new_zeros(num_nodes, flat.shape[1]).index_reduce(0, index, flat, "amax", include_self=False)
    else:
        raise ValueError(f"unknown reduce {reduce!r}")
    return out.reshape(num_nodes, *tail)


class MessagePassing(nn.Module):
    def __init__(self, aggr: str = "sum") -> None:
        super().__init__()
        self.aggr = aggr

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        return self.propagate(edge_index, x)

    def propagate(self, edge_index: torch.Tensor, x: torch.Tensor, **kwargs) -> torch.Tensor:
        x_j = x[edge_index[0]]
        x_i = x[edge_index[1]]
        out = self.aggregate(self.message(x_i=x_i, x_j=x_j, **kwargs), edge_index[1], x.shape[0])
        return self.update(out, x)

    def message(self, x_i, x_j, **kwargs):
        return x_j

    def aggregate(self, messages, index, num_nodes):
        return scatter(messages, index, num_nodes, self.aggr)

    def update(self, aggr_out, x):
        return aggr_out


class GCNLayer(MessagePassing):
    def __init__(self, in_channels: int, out_channels: int, bias: bool = True) -> None:
        super().__init__(aggr="sum")
        self.lin = nn.Linear(in_channels, out_channels, bias=False)
        if bias:
            self.bias = nn.Parameter(torch.zeros(out_channels))
        else:
            self.register_parameter("bias", None)

    def forward(self, x, edge_index):
        num = x.shape[0]
        edge_index = add_self_loops(edge_index, num)
        d = degree(edge_index[1], num).to(x.dtype)
        weight = 1.0 / torch.sqrt(d[edge_index[0]] * d[edge_index[1]])
        return self.propagate(edge_index, self.lin(x), weight=weight)

    def message(self, x_i, x_j, weight):
        return weight.unsqueeze(-1) * x_j

    def update(self, aggr_out, x):
        return aggr_out if self.bias is None else aggr_out + self.bias


class SAGELayer(MessagePassing):
    def __init__(self, in_channels: int, out_channels: int, bias: bool = True) -> None:
        super().__init__(aggr="mean")
        self.lin_l = nn.Linear(in_channels, out_channels, bias=bias)
        self.lin_r = nn.Linear(in_channels, out_channels, bias=False)

    # forward is MessagePassing's: propagate(edge_index, x)

    def update(self, aggr_out, x):
        return self.lin_l(aggr_out) + self.lin_r(x)


def global_mean_pool(x: torch.Tensor, batch: torch.Tensor, num_graphs: int | None = None) -> torch.Tensor:
    count = num_graphs if num_graphs is not None else (int(batch.max().item()) + 1 if batch.numel() else 0)
    return scatter(x, batch, count, reduce="mean")


class GCN(nn.Module):
    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int, num_layers: int = 2) -> None:
        super().__init__()
        layers = []
        for k in range(num_layers):
            a = in_channels if k == 0 else hidden_channels
            b = out_channels if k == num_layers - 1 else hidden_channels
            layers.append(GCNLayer(a, b))
        self.layers = nn.ModuleList(layers)

    def forward(self, x, edge_index):
        n_layers = len(self.layers)
        for k in range(n_layers):
            x = self.layers[k](x, edge_index)
            if k + 1 < n_layers:
                x = F.relu(x)
        return x


def link_scores(z: torch.Tensor, pairs: torch.Tensor) -> torch.Tensor:
    u, v = pairs.unbind(0)
    return (z[u] * z[v]).sum(dim=1)


class GraphClassifier(nn.Module):
    def __init__(self, in_channels: int, hidden_channels: int, num_classes: int) -> None:
        super().__init__()
        self.gcn = GCNLayer(in_channels, hidden_channels)
        self.sage = SAGELayer(hidden_channels, hidden_channels)
        self.readout = nn.Linear(2 * hidden_channels, num_classes)

    def forward(self, x, edge_index, batch):
        graphs = int(batch.max()) + 1 if batch.numel() else 0
        h1 = F.relu(self.gcn(x, edge_index))
        h2 = F.relu(self.sage(h1, edge_index))
        pooled = torch.cat([global_mean_pool(h1, batch, graphs), global_mean_pool(h2, batch, graphs)], dim=1)
        return self.readout(pooled)
