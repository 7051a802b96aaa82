"""Graph data for the gnn assignment, built from networkx generators with fixed seeds.

- `community_nodes`: node classification on a stochastic block model, with node features
  that are only weakly informative alone (the graph must be used to clean them up).
- `link_split`: link prediction — held-out edges and as many non-edges to score, with
  node features that are only weakly informative alone.
- `graph_families`: graph classification — cycles, stars and wheels of random sizes,
  with constant node features (only the structure tells them apart).
"""

from __future__ import annotations

import networkx as nx
import torch


def _edge_index(G: nx.Graph) -> torch.Tensor:
    pairs = [(u, v) for u, v in G.edges()] + [(v, u) for u, v in G.edges()]
    return torch.tensor(pairs, dtype=torch.long).T.contiguous()


def community_nodes(*, communities: int = 3, size: int = 60, p_in: float = 0.15, p_out: float = 0.01,
                    noise: float = 1.5, seed: int = 0) -> dict[str, torch.Tensor]:
    """A stochastic block model; features = one-hot community + Gaussian noise.

    Returns `x` (N, communities), `edge_index` (2, E), `y` (N,), `train_mask` (N,) with
    20% of the nodes for training; the rest are held out.
    """
    G = nx.stochastic_block_model([size] * communities, [[p_in if a == b else p_out for b in range(communities)] for a in range(communities)], seed=seed)
    gen = torch.Generator().manual_seed(seed)
    y = torch.arange(communities).repeat_interleave(size)
    x = torch.nn.functional.one_hot(y, communities).float() + noise * torch.randn(len(y), communities, generator=gen)
    train_mask = torch.rand(len(y), generator=gen) < 0.2
    return {"x": x, "edge_index": _edge_index(G), "y": y, "train_mask": train_mask}


def link_split(*, n: int = 120, communities: int = 4, p_in: float = 0.2, p_out: float = 0.005, noise: float = 1.0,
               held_out: float = 0.15, seed: int = 0) -> dict[str, torch.Tensor]:
    """A stochastic block model with 15% of its edges held out; features = one-hot
    community + Gaussian noise (alone, they rank held-out edges barely above chance).

    Returns `x` (N, communities), `train_edge_index` (2, E_train, both directions),
    `test_pos` (2, P) held-out edges and `test_neg` (2, P) node pairs that are not edges.
    """
    size = n // communities
    G = nx.stochastic_block_model([size] * communities, [[p_in if a == b else p_out for b in range(communities)] for a in range(communities)], seed=seed)
    gen = torch.Generator().manual_seed(seed)
    edges = torch.tensor(list(G.edges()), dtype=torch.long)
    perm = torch.randperm(len(edges), generator=gen)
    n_test = int(held_out * len(edges))
    test, train = edges[perm[:n_test]], edges[perm[n_test:]]
    existing = {(int(u), int(v)) for u, v in edges} | {(int(v), int(u)) for u, v in edges}
    negatives = []
    while len(negatives) < n_test:
        u, v = torch.randint(0, G.number_of_nodes(), (2,), generator=gen).tolist()
        if u != v and (u, v) not in existing:
            negatives.append((u, v))
    y = torch.arange(communities).repeat_interleave(size)
    return {
        "x": torch.nn.functional.one_hot(y, communities).float() + noise * torch.randn(len(y), communities, generator=gen),
        "train_edge_index": torch.cat([train.T, train.T.flip(0)], dim=1),
        "test_pos": test.T.contiguous(),
        "test_neg": torch.tensor(negatives, dtype=torch.long).T.contiguous(),
    }


FAMILIES = (nx.cycle_graph, lambda n: nx.star_graph(n - 1), nx.wheel_graph)


def graph_families(count: int, *, seed: int = 0) -> dict[str, torch.Tensor]:
    """`count` graphs: cycles (class 0), stars (1) and wheels (2) of 6 to 15 nodes, in one batch.

    Returns `x` (N, 1) all ones, `edge_index` (2, E), `batch` (N,), `y` (count,).
    """
    gen = torch.Generator().manual_seed(seed)
    xs, edges, batch, ys = [], [], [], []
    offset = 0
    for g in range(count):
        label = int(torch.randint(0, len(FAMILIES), (1,), generator=gen))
        n = int(torch.randint(6, 16, (1,), generator=gen))
        G = FAMILIES[label](n)
        edges.append(_edge_index(G) + offset)
        batch.append(torch.full((G.number_of_nodes(),), g))
        ys.append(label)
        offset += G.number_of_nodes()
    return {"x": torch.ones(offset, 1), "edge_index": torch.cat(edges, dim=1), "batch": torch.cat(batch), "y": torch.tensor(ys)}
