"""Probes and trusted building blocks for the gnn assignment.

The trusted primitives (plain torch, no PyG) let a test of a layer swap them in
(`patch=`), so a broken `scatter` costs the scatter points only once.  The three
training probes are the grader's own loops for the lecture's three task types; held-out
labels never reach them — they return logits or scores for the judge to evaluate.
"""

from __future__ import annotations

from typing import Any

import torch
import torch.nn.functional as F

from autograder.probes import probe
from autograder.probes.core import build_model, plain
from autograder.probes.spec import Build, resolve


def trusted_scatter(src: torch.Tensor, index: torch.Tensor, num_nodes: int, reduce: str = "sum") -> torch.Tensor:
    shape = (num_nodes, *src.shape[1:])
    expanded = index.view(-1, *([1] * (src.dim() - 1))).expand_as(src)
    mode = {"sum": "sum", "mean": "mean", "max": "amax"}[reduce]
    return src.new_zeros(shape).scatter_reduce(0, expanded, src, reduce=mode, include_self=False)


def trusted_degree(index: torch.Tensor, num_nodes: int) -> torch.Tensor:
    return torch.bincount(index, minlength=num_nodes).float()


def trusted_add_self_loops(edge_index: torch.Tensor, num_nodes: int) -> torch.Tensor:
    looped = edge_index[0, edge_index[0] == edge_index[1]]
    missing = torch.tensor(sorted(set(range(num_nodes)) - set(looped.tolist())), dtype=torch.long)
    return torch.cat([edge_index, missing.repeat(2, 1)], dim=1)


TRUSTED_PRIMITIVES = {
    "scatter": "autograder.probes.gnn:trusted_scatter",
    "degree": "autograder.probes.gnn:trusted_degree",
    "add_self_loops": "autograder.probes.gnn:trusted_add_self_loops",
}


@probe
def message_passing(module: Any, *, aggr: str, x: torch.Tensor, edge_index: torch.Tensor, weight: torch.Tensor) -> dict:
    """Subclass the module's `MessagePassing` with a message that uses x_i, x_j and a per-edge
    keyword argument; return `propagate`'s output."""
    base = resolve(module, "MessagePassing")

    class Probe(base):  # type: ignore[misc, valid-type]
        def message(self, x_i: torch.Tensor, x_j: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
            return 10.0 * x_i + weight.unsqueeze(-1) * x_j

    return {"output": plain(Probe(aggr).propagate(edge_index, x, weight=weight))}


def _adam_steps(obj: torch.nn.Module, loss_fn: Any, steps: int, lr: float) -> None:
    optimizer = torch.optim.Adam(obj.parameters(), lr=lr, weight_decay=5e-4)
    for _ in range(steps):
        optimizer.zero_grad()
        loss_fn().backward()
        optimizer.step()


@probe
def train_node_classifier(module: Any, *, model: Build, state_dict: dict | None, x: torch.Tensor, edge_index: torch.Tensor,
                          y_train: torch.Tensor, train_mask: torch.Tensor, steps: int, lr: float) -> dict:
    """Full-batch training on the labelled nodes only; logits for every node."""
    obj = build_model(module, model, state_dict, None)
    _adam_steps(obj, lambda: F.cross_entropy(obj(x, edge_index)[train_mask], y_train), steps, lr)
    with torch.no_grad():
        return {"logits": plain(obj(x, edge_index))}


@probe
def train_link_predictor(module: Any, *, model: Build, state_dict: dict | None, x: torch.Tensor, train_edge_index: torch.Tensor,
                         pairs: torch.Tensor, steps: int, lr: float, seed: int = 0) -> dict:
    """Encoder + `link_scores`, binary cross-entropy against freshly sampled non-edges; scores of `pairs`."""
    obj = build_model(module, model, state_dict, None)
    scores = resolve(module, "link_scores")
    gen = torch.Generator().manual_seed(seed)
    n = x.shape[0]

    def loss() -> torch.Tensor:
        z = obj(x, train_edge_index)
        negative = torch.randint(0, n, train_edge_index.shape, generator=gen)
        logits = torch.cat([scores(z, train_edge_index), scores(z, negative)])
        target = torch.cat([torch.ones(train_edge_index.shape[1]), torch.zeros(negative.shape[1])])
        return F.binary_cross_entropy_with_logits(logits, target)

    _adam_steps(obj, loss, steps, lr)
    with torch.no_grad():
        return {"scores": plain(scores(obj(x, train_edge_index), pairs))}


@probe
def train_graph_classifier(module: Any, *, model: Build, x: torch.Tensor, edge_index: torch.Tensor, batch: torch.Tensor,
                           y: torch.Tensor, eval_x: torch.Tensor, eval_edge_index: torch.Tensor, eval_batch: torch.Tensor,
                           steps: int, lr: float) -> dict:
    """Full-batch training on a batch of graphs; logits for the held-out batch."""
    obj = build_model(module, model, None, None)
    _adam_steps(obj, lambda: F.cross_entropy(obj(x, edge_index, batch), y), steps, lr)
    with torch.no_grad():
        return {"logits": plain(obj(eval_x, eval_edge_index, eval_batch))}
