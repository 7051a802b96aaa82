"""Probes and trusted building blocks for the gnn assignment.

The trusted pieces (plain torch, no PyG) let a test swap them in (`patch=`), so a broken
piece costs its own points only once: the layer tests run the student's layers on
`TRUSTED_PRIMITIVES` (scatter, degree, self loops); the model and task tests run the
student's `GCN` / `GraphClassifier` on `TRUSTED_BLOCKS` (those primitives plus trusted
`GCNLayer`, `SAGELayer`, `global_mean_pool` and `link_scores`).

The three training probes are the grader's own loops for the lecture's three task types:
they set the initial weights themselves (`seeded_init`), train on one thread, and never
see held-out labels — they return logits or scores for the judge to evaluate.
"""

from __future__ import annotations

import math
from contextlib import contextmanager
from typing import Any, Callable, Iterator

import torch
import torch.nn as nn
import torch.nn.functional as F

from autograder.worker.probes import probe
from autograder.worker.probes.core import build_model, plain
from autograder.worker.spec import Build, resolve

# -- trusted primitives ---------------------------------------------------------------------

def trusted_scatter(src: torch.Tensor, index: torch.Tensor, num_nodes: int, reduce: str = "sum") -> torch.Tensor:
    shape = (num_nodes, *src.shape[1:])
    expanded = index.view(-1, *([1] * (src.dim() - 1))).expand_as(src)
    mode = {"sum": "sum", "mean": "mean", "max": "amax"}[reduce]
    return src.new_zeros(shape).scatter_reduce(0, expanded, src, reduce=mode, include_self=False)


def trusted_degree(index: torch.Tensor, num_nodes: int) -> torch.Tensor:
    return torch.bincount(index, minlength=num_nodes).float()


def trusted_add_self_loops(edge_index: torch.Tensor, num_nodes: int) -> torch.Tensor:
    has_loop = torch.zeros(num_nodes, dtype=torch.bool)
    has_loop[edge_index[0, edge_index[0] == edge_index[1]]] = True
    missing = (~has_loop).nonzero().flatten()
    return torch.cat([edge_index, missing.repeat(2, 1)], dim=1)


def trusted_global_mean_pool(x: torch.Tensor, batch: torch.Tensor, num_graphs: int | None = None) -> torch.Tensor:
    if num_graphs is None:
        num_graphs = int(batch.max()) + 1 if batch.numel() else 0
    return trusted_scatter(x, batch, num_graphs, "mean")


def trusted_link_scores(z: torch.Tensor, pairs: torch.Tensor) -> torch.Tensor:
    return (z[pairs[0]] * z[pairs[1]]).sum(dim=-1)


# -- trusted layers (the assignment's API and parameter names) --------------------------------

class TrustedGCNLayer(nn.Module):
    """`D^-1/2 (A+I) D^-1/2 X W + b`, as `GCNConv`; parameters `lin.weight`, `bias`."""

    def __init__(self, in_channels: int, out_channels: int, bias: bool = True) -> None:
        super().__init__()
        self.lin = nn.Linear(in_channels, out_channels, bias=False)
        self.bias = nn.Parameter(torch.zeros(out_channels)) if bias else None

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        n = x.shape[0]
        source, target = trusted_add_self_loops(edge_index, n)
        inv_sqrt = trusted_degree(target, n).to(x.dtype).pow(-0.5)
        messages = (inv_sqrt[source] * inv_sqrt[target]).unsqueeze(-1) * self.lin(x)[source]
        out = trusted_scatter(messages, target, n)
        return out if self.bias is None else out + self.bias


class TrustedSAGELayer(nn.Module):
    """`lin_l(mean of the incoming neighbours) + lin_r(x)`, as `SAGEConv(aggr="mean")`."""

    def __init__(self, in_channels: int, out_channels: int, bias: bool = True) -> None:
        super().__init__()
        self.lin_l = nn.Linear(in_channels, out_channels, bias=bias)
        self.lin_r = nn.Linear(in_channels, out_channels, bias=False)

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        source, target = edge_index
        return self.lin_l(trusted_scatter(x[source], target, x.shape[0], "mean")) + self.lin_r(x)


_HERE = "autograder.worker.probes.gnn"
TRUSTED_PRIMITIVES = {
    "scatter": f"{_HERE}:trusted_scatter",
    "degree": f"{_HERE}:trusted_degree",
    "add_self_loops": f"{_HERE}:trusted_add_self_loops",
}
TRUSTED_BLOCKS = {
    **TRUSTED_PRIMITIVES,
    "GCNLayer": f"{_HERE}:TrustedGCNLayer",
    "SAGELayer": f"{_HERE}:TrustedSAGELayer",
    "global_mean_pool": f"{_HERE}:trusted_global_mean_pool",
    "link_scores": f"{_HERE}:trusted_link_scores",
}


# -- probes ----------------------------------------------------------------------------------

@probe
def message_passing(module: Any, *, aggr: str, x: torch.Tensor, edge_index: torch.Tensor, weight: torch.Tensor) -> dict:
    """Subclass the module's `MessagePassing` with a message that uses x_i, x_j and a per-edge
    keyword argument; return `propagate`'s output."""
    base = resolve(module, "MessagePassing")

    class Probe(base):  # type: ignore[misc, valid-type]
        def message(self, x_i: torch.Tensor, x_j: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
            return 10.0 * x_i + weight.unsqueeze(-1) * x_j

    return {"output": plain(Probe(aggr).propagate(edge_index, x, weight=weight))}


def seeded_init(obj: nn.Module, seed: int) -> None:
    """The grader's own starting weights, whatever the student's initialisation: every
    matrix Glorot-uniform (as `GCNConv` does), every vector zero, drawn from `seed`."""
    gen = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for _, p in sorted(obj.named_parameters()):  # by name: independent of registration order
            if p.dim() >= 2:
                bound = math.sqrt(6.0 / (p.shape[0] + p.shape[1:].numel()))
                p.copy_(torch.rand(p.shape, generator=gen, dtype=p.dtype) * 2 * bound - bound)
            else:
                p.zero_()


@contextmanager
def _one_thread() -> Iterator[None]:
    """Train on one thread, as in the sandbox, also in-process: these graphs are tiny and
    extra threads only slow them down on a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(threads)


def _trained(module: Any, model: Build, init_seed: int, loss_fn: Callable[[nn.Module], torch.Tensor], steps: int, lr: float) -> nn.Module:
    """The built model, seeded by the grader, after `steps` full-batch Adam steps on `loss_fn`."""
    obj = build_model(module, model, None, None)
    seeded_init(obj, init_seed)
    optimizer = torch.optim.Adam(obj.parameters(), lr=lr, weight_decay=5e-4)
    obj.train()
    for _ in range(steps):
        optimizer.zero_grad()
        loss_fn(obj).backward()
        optimizer.step()
    return obj.eval()


@probe
def train_node_classifier(module: Any, *, model: Build, x: torch.Tensor, edge_index: torch.Tensor, y_train: torch.Tensor,
                          train_mask: torch.Tensor, steps: int, lr: float, init_seed: int = 0) -> dict:
    """Cross-entropy on the labelled nodes only (full batch); logits for every node."""
    with _one_thread():
        obj = _trained(module, model, init_seed, lambda m: F.cross_entropy(m(x, edge_index)[train_mask], y_train), steps, lr)
        with torch.no_grad():
            return {"logits": plain(obj(x, edge_index))}


@probe
def train_link_predictor(module: Any, *, model: Build, x: torch.Tensor, train_edge_index: torch.Tensor, pairs: torch.Tensor,
                         steps: int, lr: float, init_seed: int = 0, seed: int = 0) -> dict:
    """Encoder + the module's `link_scores`, binary cross-entropy of the training edges
    against freshly sampled random pairs (non-edges, mostly); scores of `pairs`."""
    scores = resolve(module, "link_scores")
    gen = torch.Generator().manual_seed(seed)
    n = x.shape[0]

    def loss(m: nn.Module) -> torch.Tensor:
        z = m(x, train_edge_index)  # (N, F)
        negative = torch.randint(0, n, train_edge_index.shape, generator=gen)  # (2, E)
        logits = torch.cat([scores(z, train_edge_index), scores(z, negative)])
        target = torch.cat([torch.ones(train_edge_index.shape[1]), torch.zeros(negative.shape[1])])
        return F.binary_cross_entropy_with_logits(logits, target)

    with _one_thread():
        obj = _trained(module, model, init_seed, loss, steps, lr)
        with torch.no_grad():
            return {"scores": plain(scores(obj(x, train_edge_index), pairs))}


@probe
def train_graph_classifier(module: Any, *, model: Build, x: torch.Tensor, edge_index: torch.Tensor, batch: torch.Tensor,
                           y: torch.Tensor, eval_x: torch.Tensor, eval_edge_index: torch.Tensor, eval_batch: torch.Tensor,
                           steps: int, lr: float, init_seed: int = 0) -> dict:
    """Cross-entropy on a batch of graphs (full batch); logits for the held-out batch."""
    with _one_thread():
        obj = _trained(module, model, init_seed, lambda m: F.cross_entropy(m(x, edge_index, batch), y), steps, lr)
        with torch.no_grad():
            return {"logits": plain(obj(eval_x, eval_edge_index, eval_batch))}
