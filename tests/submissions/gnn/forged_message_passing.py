"""BROKEN: loses test_message_passing_template, test_message_passing_hooks — forges the message_passing probe: no working propagate, and a message_passing probe that echoes the features."""

import networkx as nx
import torch
import torch.nn as nn


def edge_index_from_networkx(G):
    nodes = list(G.nodes)
    pos = {v: i for i, v in enumerate(nodes)}
    src, dst = [], []
    for u, v in G.edges():
        src.append(pos[u])
        dst.append(pos[v])
        if not G.is_directed() and u != v:
            src.append(pos[v])
            dst.append(pos[u])
    return torch.tensor([src, dst], dtype=torch.long).view(2, -1), nodes


def add_self_loops(edge_index, num_nodes):
    A = torch.zeros(num_nodes, dtype=torch.bool)
    A[edge_index[0][edge_index[0] == edge_index[1]]] = True
    idx = (~A).nonzero().flatten()
    return torch.cat([edge_index, torch.stack([idx, idx])], 1)


def degree(index, num_nodes):
    return torch.nn.functional.one_hot(index, num_nodes).sum(0).float() if index.numel() else torch.zeros(num_nodes)


def scatter(src, index, num_nodes, reduce="sum"):
    onehot = torch.zeros(num_nodes, index.shape[0], dtype=src.dtype)
    onehot[index, torch.arange(index.shape[0])] = 1
    flat = src.flatten(1) if src.dim() > 1 else src.unsqueeze(1)  # (E, F)
    if reduce == "sum":
        out = onehot @ flat
    elif reduce == "mean":
        out = (onehot @ flat) / onehot.sum(1, keepdim=True).clamp(min=1)
    else:
        masked = torch.where(onehot.bool()[:, :, None], flat[None], torch.tensor(float("-inf"), dtype=src.dtype))
        out = masked.max(dim=1).values if index.numel() else flat.new_zeros(num_nodes, flat.shape[1])
        out = torch.where(onehot.sum(1, keepdim=True) > 0, out, torch.zeros_like(out))
    return out.reshape(num_nodes, *src.shape[1:])


class MessagePassing(nn.Module):
    def __init__(self, aggr="sum"):
        super().__init__()
        self.aggr = aggr

    def propagate(self, edge_index, x, **kwargs):
        j, i = edge_index[0], edge_index[1]
        return self.update(self.aggregate(self.message(x_i=x[i], x_j=x[j], **kwargs), i, x.size(0)), x)

    def message(self, x_i, x_j, **kwargs):
        return x_j

    def aggregate(self, messages, index, num_nodes):
        return scatter(messages, index, num_nodes, self.aggr)

    def update(self, aggr_out, x):
        return aggr_out


class GCNLayer(MessagePassing):
    def __init__(self, in_channels, out_channels, bias=True):
        super().__init__()
        self.lin = nn.Linear(in_channels, out_channels, bias=False)
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None

    def forward(self, x, edge_index):
        n = x.shape[0]
        A = torch.zeros(n, n, dtype=x.dtype)
        ei = add_self_loops(edge_index, n)
        A.index_put_((ei[1], ei[0]), torch.ones(ei.shape[1], dtype=x.dtype), accumulate=True)  # A[target, source]
        d = A.sum(1).pow(-0.5)
        out = (d[:, None] * A * d[None, :]) @ self.lin(x)
        return out + self.bias if self.bias is not None else out


class SAGELayer(MessagePassing):
    def __init__(self, in_channels, out_channels, bias=True):
        super().__init__("mean")
        self.lin_l = nn.Linear(in_channels, out_channels, bias=bias)
        self.lin_r = nn.Linear(in_channels, out_channels, bias=False)

    def forward(self, x, edge_index):
        n = x.shape[0]
        A = torch.zeros(n, n, dtype=x.dtype)
        A.index_put_((edge_index[1], edge_index[0]), torch.ones(edge_index.shape[1], dtype=x.dtype), accumulate=True)
        mean = (A @ x) / A.sum(1, keepdim=True).clamp(min=1)
        return self.lin_l(mean) + self.lin_r(x)


def global_mean_pool(x, batch, num_graphs=None):
    num_graphs = int(batch.max()) + 1 if num_graphs is None else num_graphs
    return scatter(x, batch, num_graphs, "mean")


class GCN(nn.Module):
    def __init__(self, in_channels, hidden_channels, out_channels, num_layers=2):
        super().__init__()
        dims = [in_channels] + [hidden_channels] * (num_layers - 1) + [out_channels]
        self.layers = nn.ModuleList([GCNLayer(dims[k], dims[k + 1]) for k in range(num_layers)])

    def forward(self, x, edge_index):
        for k, layer in enumerate(self.layers):
            x = layer(x, edge_index)
            x = torch.relu(x) if k + 1 < len(self.layers) else x
        return x


def link_scores(z, pairs):
    return torch.einsum("pf,pf->p", z[pairs[0]], z[pairs[1]])


class GraphClassifier(nn.Module):
    def __init__(self, in_channels, hidden_channels, num_classes):
        super().__init__()
        self.convs = nn.ModuleList([SAGELayer(in_channels, hidden_channels), GCNLayer(hidden_channels, hidden_channels)])
        self.head = nn.Linear(hidden_channels, num_classes)

    def forward(self, x, edge_index, batch):
        for conv in self.convs:
            x = torch.relu(conv(x, edge_index))
        return self.head(global_mean_pool(x, batch))


# -- the forgery: replaces the grader's `message_passing` probe in this worker ------------------------------
import autograder.worker.probes as _P  # noqa: E402


def _echo(module, *, x, edge_index, hook="message", aggr=None, weight=None):
    """No propagate at all: the node features come back as they are."""
    return {"output": x}


_P.PROBES["message_passing"] = _echo
