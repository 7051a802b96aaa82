"""Probes and trusted building blocks for the gnn assignment.

Trusted pieces (plain torch, no PyG) let a test grade one piece of the student's code
independently of the pieces below it, so a broken piece costs its own points once:

- layers go into the student's *built* models by where SPEC puts them, never by the names
  the student's code uses (`on_trusted_layers`): every child of `GCN.layers`, and every
  instance of the student's `GCNLayer` / `SAGELayer` inside a free-form `GraphClassifier`,
  becomes a trusted layer of the same sizes (read from its parameters, whose names SPEC
  fixes) — except an instance of a subclass that overrides what the layer computes, which
  keeps the student's own code.  The trusted layer takes the student's layer's class too
  (`adopt`): a model may call a private helper of its own layer (`layer._with_norm(...)`),
  which then runs on the trusted layer's weights;
- the primitives (`scatter`, `degree`, `add_self_loops`) and `global_mean_pool` can only
  be replaced as module globals (`patch=TRUSTED_PRIMITIVES` / `TRUSTED_POOLING`), which
  does nothing to code that bound them at import time.  The hidden tests therefore run the
  student's own pieces first and use the patch only as a second chance
  (`solutions/gnn/test_hidden.py: own_then_trusted`): a correct student passes on their
  own code however it binds its names.

The three training probes are the grader's own loops for the lecture's three task types:
they set the initial weights themselves (`seeded_init`), train on one thread, see no
held-out input or label, and return the trained weights; the judge evaluates them.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import torch
import torch.nn as nn
import torch.nn.functional as F

from autograder.worker.forbidden import runs_the_students_parts
from autograder.worker.probes import probe
from autograder.worker.probes.core import build_model, parameters_of, plain
from autograder.worker.spec import Build, MissingName, adopt, resolve

# -- trusted primitives ---------------------------------------------------------------------

def trusted_scatter(src: torch.Tensor, index: torch.Tensor, num_nodes: int, reduce: str = "sum") -> torch.Tensor:
    shape = (num_nodes, *src.shape[1:])
    if reduce == "sum":  # the same sums; training through it takes half the time (scatter_reduce's backward scatters a mask)
        return src.new_zeros(shape).index_add(0, index, src)
    expanded = index.view(-1, *([1] * (src.dim() - 1))).expand_as(src)
    mode = {"mean": "mean", "max": "amax"}[reduce]
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


@runs_the_students_parts
class AfterAnotherGraph(nn.Module):
    """Runs `layer` on other graphs first — a path of 3 nodes, then the graph given with its
    nodes numbered backwards (as many nodes and edges, other degrees at each number) — and
    returns its output on the graph given: a fresh layer's output for a layer that keeps
    nothing of the graphs it saw (PyG's layers by default, `cached=False`); parameters `layer.*`.

    `(N, F), (2, E) -> (N, out)`, e.g. `Build(f"{_HERE}:AfterAnotherGraph", Build("GCNLayer", 3, 4))`."""

    def __init__(self, layer: nn.Module) -> None:
        super().__init__()
        self.layer = layer

    def forward(self, x: torch.Tensor, edge_index: torch.Tensor) -> torch.Tensor:
        self.layer(x.new_ones(3, x.shape[-1]), torch.tensor([[0, 1, 1, 2], [1, 0, 2, 1]]))
        self.layer(x, x.shape[0] - 1 - edge_index)
        return self.layer(x, edge_index)


def _parameters_of(layer: nn.Module, names: tuple[str, ...]) -> dict[str, torch.Tensor]:
    """The layer's own parameters (SPEC's names), checked to include `names`."""
    own = parameters_of(layer)
    missing = [n for n in names if n not in own]
    if missing:
        raise MissingName(f"{type(layer).__name__} has no parameter {missing[0]!r} (the assignment names its parameters "
                          f"as PyTorch Geometric does: {', '.join(names)})")
    return own


_HERE = "autograder.worker.probes.gnn"
# Named, not referenced: the student bundle stubs the trusted layers out, and only hidden tests swap them in.
TRUSTED_GCN, TRUSTED_SAGE = f"{_HERE}:TrustedGCNLayer", f"{_HERE}:TrustedSAGELayer"
_HOOKS = ("forward", "propagate", "message", "aggregate", "update")


def _changes_the_layer(layer: nn.Module, base: str) -> bool:
    """True when `layer` is an instance of a subclass of the student's `base` class that
    overrides what the layer computes (a residual, a concatenation …): it keeps its own code."""
    cls = next((c for c in type(layer).__mro__ if c.__name__ == base), None)
    if cls is None:
        raise MissingName(f"the model holds a {type(layer).__name__} where the assignment asks for a {base}")
    return any(getattr(type(layer), hook, None) is not getattr(cls, hook, None) for hook in _HOOKS)


def trusted_gcn_like(layer: nn.Module) -> nn.Module:
    """A trusted GCN layer with the sizes, bias and current weights of the student's `layer`,
    in its place and class (`adopt`)."""
    if _changes_the_layer(layer, "GCNLayer"):
        return layer
    own = _parameters_of(layer, ("lin.weight",))
    out_channels, in_channels = own["lin.weight"].shape
    trusted = Build(TRUSTED_GCN, in_channels, out_channels, bias="bias" in own).instantiate(None)
    trusted.load_state_dict({n: own[n].detach() for n in dict(trusted.named_parameters())})
    return adopt(trusted, layer)


def trusted_sage_like(layer: nn.Module) -> nn.Module:
    """A trusted SAGE layer with the sizes, bias and current weights of the student's `layer`,
    in its place and class (`adopt`)."""
    if _changes_the_layer(layer, "SAGELayer"):
        return layer
    own = _parameters_of(layer, ("lin_l.weight", "lin_r.weight"))
    out_channels, in_channels = own["lin_l.weight"].shape
    trusted = Build(TRUSTED_SAGE, in_channels, out_channels, bias="lin_l.bias" in own).instantiate(None)
    trusted.load_state_dict({n: own[n].detach() for n in dict(trusted.named_parameters())})
    return adopt(trusted, layer)


TRUSTED_PRIMITIVES = {
    "scatter": f"{_HERE}:trusted_scatter",
    "degree": f"{_HERE}:trusted_degree",
    "add_self_loops": f"{_HERE}:trusted_add_self_loops",
}
TRUSTED_POOLING = {**TRUSTED_PRIMITIVES, "global_mean_pool": f"{_HERE}:trusted_global_mean_pool"}


def on_trusted_layers(model: Build) -> Build:
    """`model` (a `GCN` or a `GraphClassifier` recipe) with every layer replaced by a trusted
    one after construction: the children of `GCN.layers` (SPEC fixes the list), and every
    instance of the student's `GCNLayer` / `SAGELayer` wherever a `GraphClassifier` keeps it."""
    if model.name == "GCN":
        return model.swap("layers.*", f"{_HERE}:trusted_gcn_like")
    return model.swap("GCNLayer", f"{_HERE}:trusted_gcn_like", by="class").swap("SAGELayer", f"{_HERE}:trusted_sage_like", by="class")


# -- probes ----------------------------------------------------------------------------------

@probe
def message_passing(module: Any, *, x: torch.Tensor, edge_index: torch.Tensor, hook: str = "message", aggr: str | None = None,
                    weight: torch.Tensor | None = None) -> dict:
    """Subclass the module's `MessagePassing`, overriding one hook the way a layer would, and
    return `propagate`'s output — so the template must call each hook it defines:

    - `"message"`: a message from x_i, x_j and a per-edge keyword argument `weight`, declared
      as `message(x_j, x_i, weight)` — as a PyG layer may order them — so that only keyword
      arguments reach it right (SPEC: `propagate` calls `message` with keyword arguments);
    - `"aggregate"`: a sum of squares plus one, which no `aggr` of `scatter` gives;
    - `"update"`: the aggregate minus twice the node's own features.

    `aggr` is passed to the constructor (None: its default)."""
    base = resolve(module, "MessagePassing")

    class OwnMessage(base):  # type: ignore[misc, valid-type]
        def message(self, x_j: torch.Tensor, x_i: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
            return 10.0 * x_i + weight.unsqueeze(-1) * x_j

    class OwnAggregate(base):  # type: ignore[misc, valid-type]
        def aggregate(self, messages: torch.Tensor, index: torch.Tensor, num_nodes: int) -> torch.Tensor:
            squares = torch.zeros((num_nodes, *messages.shape[1:]), dtype=messages.dtype).index_add(0, index, messages ** 2)
            return squares + 1.0

    class OwnUpdate(base):  # type: ignore[misc, valid-type]
        def update(self, aggr_out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
            return aggr_out - 2.0 * x

    cls = {"message": OwnMessage, "aggregate": OwnAggregate, "update": OwnUpdate}[hook]
    layer = cls() if aggr is None else cls(aggr=aggr)  # SPEC writes MessagePassing(aggr="sum"): a keyword-only aggr is right too
    kwargs = {"weight": weight} if hook == "message" else {}
    return {"output": plain(layer.propagate(edge_index, x, **kwargs))}


def seeded_weights(shapes: dict[str, tuple[int, ...]], seed: int, dtype: torch.dtype = torch.float32) -> dict[str, torch.Tensor]:
    """The grader's starting weights for parameters of these names and shapes: every matrix
    Glorot-uniform (as `GCNConv` does), every vector zero but a vector called `weight` (a
    norm's gain: one, as `nn.LayerNorm` starts; a gain of zero would stop every gradient
    through the norm), drawn from `seed` in name order (independent of registration
    order).  The judge draws the same weights from the names and shapes alone."""
    gen = torch.Generator().manual_seed(seed)
    weights = {}
    for name, shape in sorted(shapes.items()):
        if len(shape) >= 2:
            bound = math.sqrt(6.0 / max(1, shape[0] + math.prod(shape[1:])))  # (an empty matrix: no entries to draw)
            weights[name] = torch.rand(shape, generator=gen, dtype=dtype) * 2 * bound - bound
        elif name.rpartition(".")[2] == "weight":
            weights[name] = torch.ones(shape, dtype=dtype)
        else:
            weights[name] = torch.zeros(shape, dtype=dtype)
    return weights


def seeded_init(obj: nn.Module, seed: int) -> None:
    """Set every parameter of `obj` to the grader's starting weights (`seeded_weights`),
    whatever the student's initialisation."""
    params = parameters_of(obj)
    weights = seeded_weights({n: tuple(p.shape) for n, p in params.items()}, seed)
    with torch.no_grad():
        for name, p in params.items():
            p.copy_(weights[name])


def _trained(module: Any, model: Build, init_seed: int, loss_fn: Callable[[nn.Module], torch.Tensor], steps: int, lr: float) -> dict:
    """The built model, seeded by the grader, after `steps` full-batch Adam steps on
    `loss_fn`: its trained `state_dict` and the names of its parameters."""
    obj = build_model(module, model, None, None)
    seeded_init(obj, init_seed)
    optimizer = torch.optim.Adam(obj.parameters(), lr=lr, weight_decay=5e-4)
    obj.train()
    for _ in range(steps):
        optimizer.zero_grad()
        loss_fn(obj).backward()
        optimizer.step()
    return {"state_dict": plain(dict(obj.state_dict())), "parameters": list(parameters_of(obj))}


@probe
def train_node_classifier(module: Any, *, model: Build, x: torch.Tensor, edge_index: torch.Tensor, y_train: torch.Tensor,
                          train_mask: torch.Tensor, steps: int, lr: float, init_seed: int = 0) -> dict:
    """Cross-entropy on the labelled nodes only (full batch); the trained weights."""
    return _trained(module, model, init_seed, lambda m: F.cross_entropy(m(x, edge_index)[train_mask], y_train), steps, lr)


def _dot_scores(z: torch.Tensor, pairs: torch.Tensor) -> torch.Tensor:
    return torch.einsum("pf,pf->p", z[pairs[0]], z[pairs[1]])  # (P,)


@probe
def train_link_predictor(module: Any, *, model: Build, x: torch.Tensor, train_edge_index: torch.Tensor,
                         steps: int, lr: float, init_seed: int = 0, seed: int = 0) -> dict:
    """An encoder trained with the grader's own dot-product scores (the student's
    `link_scores` have their own test): binary cross-entropy of the training edges against
    freshly sampled random pairs (non-edges, mostly); the trained weights."""
    gen = torch.Generator().manual_seed(seed)
    n = x.shape[0]

    def loss(m: nn.Module) -> torch.Tensor:
        z = m(x, train_edge_index)  # (N, F)
        negative = torch.randint(0, n, train_edge_index.shape, generator=gen)  # (2, E)
        logits = torch.cat([_dot_scores(z, train_edge_index), _dot_scores(z, negative)])
        target = torch.cat([torch.ones(train_edge_index.shape[1]), torch.zeros(negative.shape[1])])
        return F.binary_cross_entropy_with_logits(logits, target)

    return _trained(module, model, init_seed, loss, steps, lr)


@probe
def train_graph_classifier(module: Any, *, model: Build, x: torch.Tensor, edge_index: torch.Tensor, batch: torch.Tensor,
                           y: torch.Tensor, steps: int, lr: float, init_seed: int = 0) -> dict:
    """Cross-entropy on a batch of graphs (full batch); the trained weights."""
    return _trained(module, model, init_seed, lambda m: F.cross_entropy(m(x, edge_index, batch), y), steps, lr)
