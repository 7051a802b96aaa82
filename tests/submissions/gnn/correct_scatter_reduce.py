"""CORRECT: scatter_reduce for every reduction, bincount degrees, networkx conversion via numpy."""

import numpy as np
import torch
import torch.nn as nn


def edge_index_from_networkx(G):
    nodes = list(G.nodes)
    index = {v: k for k, v in enumerate(nodes)}
    edges = np.array([(index[u], index[v]) for u, v in G.edges()], dtype=np.int64).reshape(-1, 2)
    if not G.is_directed():
        mirrored = edges[edges[:, 0] != edges[:, 1]][:, ::-1]
        edges = np.concatenate([edges, mirrored])
    return torch.from_numpy(np.ascontiguousarray(edges.T)), nodes


def add_self_loops(edge_index, num_nodes):
    present = set(edge_index[0][edge_index[0] == edge_index[1]].tolist())
    extra = [k for k in range(num_nodes) if k not in present]
    return torch.cat([edge_index, torch.tensor([extra, extra], dtype=torch.long).view(2, -1)], dim=1)


def degree(index, num_nodes):
    return torch.bincount(index, minlength=num_nodes).to(torch.float32)


def scatter(src, index, num_nodes, reduce="sum"):
    idx = index.reshape(-1, *([1] * (src.dim() - 1))).expand_as(src)
    out = torch.zeros((num_nodes,) + tuple(src.shape[1:]), dtype=src.dtype)
    how = {"sum": "sum", "mean": "mean", "max": "amax"}[reduce]
    return out.scatter_reduce(0, idx, src, reduce=how, include_self=False)


class MessagePassing(nn.Module):
    def __init__(self, aggr="sum"):
        super().__init__()
        self.aggr = aggr

    def propagate(self, edge_index, x, **kwargs):
        msgs = self.message(x_i=x.index_select(0, edge_index[1]), x_j=x.index_select(0, edge_index[0]), **kwargs)
        return self.update(self.aggregate(msgs, edge_index[1], len(x)), x)

    def message(self, x_i, x_j, **kwargs):
        return x_j

    def aggregate(self, messages, index, num_nodes):
        return scatter(messages, index, num_nodes, reduce=self.aggr)

    def update(self, aggr_out, x):
        return aggr_out


class GCNLayer(MessagePassing):
    def __init__(self, in_channels, out_channels, bias=True):
        super().__init__(aggr="sum")
        self.lin = nn.Linear(in_channels, out_channels, bias=False)
        if bias:
            self.bias = nn.Parameter(torch.empty(out_channels).uniform_(-0.1, 0.1))
        else:
            self.register_parameter("bias", None)

    def forward(self, x, edge_index):
        ei = add_self_loops(edge_index, x.size(0))
        d = degree(ei[1], x.size(0)).to(x.dtype).rsqrt()
        h = self.propagate(ei, self.lin(x), w=d[ei[0]] * d[ei[1]])
        return h if self.bias is None else h + self.bias

    def message(self, x_i, x_j, w):
        return x_j * w.view(-1, 1)


class SAGELayer(MessagePassing):
    def __init__(self, in_channels, out_channels, bias=True):
        super().__init__(aggr="mean")
        self.lin_l = nn.Linear(in_channels, out_channels, bias=bias)
        self.lin_r = nn.Linear(in_channels, out_channels, bias=False)

    def forward(self, x, edge_index):
        neighbours = self.propagate(edge_index, x)
        return self.lin_r(x) + self.lin_l(neighbours)


def global_mean_pool(x, batch, num_graphs=None):
    if num_graphs is None:
        num_graphs = int(batch.max().item()) + 1
    return scatter(x, batch, num_graphs, reduce="mean")


class GCN(nn.Module):
    def __init__(self, in_channels, hidden_channels, out_channels, num_layers=2):
        super().__init__()
        self.layers = nn.ModuleList()
        for k in range(num_layers):
            a = in_channels if k == 0 else hidden_channels
            b = out_channels if k == num_layers - 1 else hidden_channels
            self.layers.append(GCNLayer(a, b))

    def forward(self, x, edge_index):
        h = x
        for layer in self.layers[:-1]:
            h = torch.relu(layer(h, edge_index))
        return self.layers[-1](h, edge_index)


def link_scores(z, pairs):
    return (z[pairs[0]] * z[pairs[1]]).sum(1)


class GraphClassifier(nn.Module):
    def __init__(self, in_channels, hidden_channels, num_classes):
        super().__init__()
        self.gnn = GCN(in_channels, hidden_channels, hidden_channels, num_layers=3)
        self.out = nn.Linear(hidden_channels, num_classes)

    def forward(self, x, edge_index, batch):
        return self.out(global_mean_pool(torch.relu(self.gnn(x, edge_index)), batch))
