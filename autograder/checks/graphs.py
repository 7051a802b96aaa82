"""Graph symmetry checks: relabelling nodes (equivariance of layers, invariance of pooled
outputs) and locality (k layers see k hops).  Generic: any module or function called as
`f(x, edge_index, *rest)` (or `f(x, *rest)` for one that takes no edges, e.g. a pooling).
A node-level output has one row per node; the shapes of what comes back are checked before
anything is indexed or compared (a reply's shapes are the student's to choose)."""

from __future__ import annotations

from typing import Any, Iterator, Sequence

import networkx as nx
import torch

from autograder.checks.base import expect_like, expect_tensor, fail, tolerances
from autograder.judge.subject import run_each
from autograder.worker.spec import Build


def relabel(x: torch.Tensor, edge_index: torch.Tensor, perm: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The same graph with node `perm[i]` of the old graph becoming node i of the new one."""
    new_id = torch.empty_like(perm)
    new_id[perm] = torch.arange(len(perm))
    return x[perm], new_id[edge_index]


def _per_node(out: torch.Tensor, n: int, what: str, prop: str, hint: str) -> torch.Tensor:
    """`out`, checked to hold one row per node of a graph of `n` nodes: shape (n, …)."""
    if out.dim() == 0 or out.shape[0] != n:
        fail(prop, f"{what} has shape {tuple(out.shape)}, expected ({n}, …): one row per node of the {n}-node graph", hint)
    return out


def _outs(sub: Any, requests: Sequence[dict], patch: dict | None) -> Iterator[torch.Tensor]:
    """The raw output of the `run` probe (no backward pass) for each of `requests`,
    pipelined (see `judge.subject.run_each`): each is checked as it comes, while the worker
    computes the next."""
    return (result["output"] for result in run_each(sub, "run", [dict(r, backward=False) for r in requests], patch=patch))


def node_permutation_equivariant(
    sub: Any, *, x: torch.Tensor, edge_index: torch.Tensor | None, prop: str, hint: str, model: Build | None = None,
    call: str = "model", rest: Sequence[Any] = (), invariant: bool = False, patch: dict | None = None,
    state_dict: dict | None = None, seed: int = 0,
) -> None:
    """Relabelling the nodes permutes the node outputs the same way (or, with `invariant`,
    leaves the output unchanged — e.g. a pooled graph output).

    Args:
        model / call: what to run, as in the `run` probe (a built model, or a function by name).
        x: node features `(N, ...)`; edge_index: `(2, E)`, or None for a function without edges.
        rest: further arguments; a tensor with N rows (e.g. `batch`) is permuted with the nodes.
    """
    perm = torch.randperm(x.shape[0], generator=torch.Generator().manual_seed(seed))
    if torch.equal(perm, torch.arange(len(perm))):  # never test with the identity
        perm = perm.roll(1)
    base = dict(model=model, call=call, state_dict=state_dict, dtype=x.dtype if model is not None else None)
    edges = () if edge_index is None else (edge_index,)
    x_p, ei_p = relabel(x, edge_index if edge_index is not None else torch.zeros(2, 0, dtype=torch.long), perm)
    edges_p = () if edge_index is None else (ei_p,)
    rest_p = [r[perm] if isinstance(r, torch.Tensor) and r.shape[:1] == x.shape[:1] else r for r in rest]
    outs = _outs(sub, [dict(args=(x, *edges, *rest), **base), dict(args=(x_p, *edges_p, *rest_p), **base)], patch)
    out = expect_tensor(next(outs), "the output", prop, hint=hint)
    if not invariant:
        _per_node(out, x.shape[0], "the output", prop, hint)
    out_p = expect_like(next(outs), out, "the output for relabelled nodes", "the output for the nodes in order", prop, hint=hint)
    expected = out if invariant else out[perm]
    rtol, atol = tolerances(x.dtype)
    if not torch.allclose(out_p, expected, rtol=rtol * 100, atol=atol * 100):
        again = next(_outs(sub, [dict(args=(x, *edges, *rest), calls_before=1, **base)], patch))  # the same model's second call
        if not (type(again) is torch.Tensor and again.shape == out.shape and again.dtype == out.dtype
                and torch.allclose(again, out, rtol=rtol, atol=atol)):
            fail(prop, "the same input gave another output on a second call (dropout, or other randomness, in training mode?): "
                       "relabelling cannot be checked on outputs that change by themselves",
                 "the assignment's layers compute the same output for the same input every time; no dropout")
        what = "changed the output" if invariant else "did not permute the outputs the same way"
        fail(prop, f"relabelling the nodes {what}", hint)


def local(
    sub: Any, *, model: Build, hops: int, prop: str, hint: str, patch: dict | None = None,
    state_dict: dict | None = None, n: int = 12, features: int = 3,
) -> None:
    """On a path graph, node 0's output ignores nodes more than `hops` away and not nodes within reach."""
    G = nx.path_graph(n)
    edge_index = torch.tensor([(u, v) for u, v in G.edges()] + [(v, u) for u, v in G.edges()], dtype=torch.long).T
    x = torch.randn(n, features, generator=torch.Generator().manual_seed(1), dtype=torch.float64)
    base = dict(model=model, state_dict=state_dict, dtype=torch.float64)
    far, near = x.clone(), x.clone()
    far[hops + 1:] += 5.0
    near[hops] += 5.0
    outs = _outs(sub, [dict(args=(inputs, edge_index), **base) for inputs in (x, far, near)], patch)
    out = _per_node(expect_tensor(next(outs), "the output", prop, hint=hint), n, "the output", prop, hint)
    out_far, out_near = (expect_like(changed, out, f"the output with {what} changed", "the output for the unchanged graph", prop, hint=hint)
                         for changed, what in zip(outs, (f"the nodes more than {hops} hops away", f"node {hops}")))
    if not torch.allclose(out_far[0], out[0]):
        fail(prop, f"after {hops} layers, node 0 changed when only nodes more than {hops} hops away changed", hint)
    if torch.allclose(out_near[0], out[0]):
        fail(prop, f"after {hops} layers, node 0 ignored a node {hops} hops away", hint)
