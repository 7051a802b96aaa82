"""Graph data for the gnn assignment, built from networkx generators with fixed seeds.

- `community_nodes`: node classification on a stochastic block model, with node features
  that are only weakly informative alone (the graph must be used to clean them up).
- `link_split`: link prediction — held-out edges and as many non-edges to score, with
  node features that are only weakly informative alone.
- `graph_families`: graph classification — "hairy cycles" (a cycle with pendant leaves)
  whose class is how the leaves are spread; one-hot degree features, the same degrees in
  every class, so only who neighbours whom tells the classes apart.
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


LEAVES = 6          # cycle nodes that carry a pendant leaf, in every graph
CLUMPS = (2, 3, 6)  # class c: the leaf-carrying nodes form CLUMPS[c] runs of consecutive cycle nodes
BARE = (6, 14)      # cycle nodes without a leaf, at least max(CLUMPS): 18 to 26 nodes in all
MAX_DEGREE = 3      # node features: one-hot degree 0..MAX_DEGREE (as PyG's OneHotDegree)


def _composition(total: int, parts: int, gen: torch.Generator) -> list[int]:
    """`total` split into `parts` positive integers (in order), uniformly over all such splits."""
    cuts = sorted((torch.randperm(total - 1, generator=gen)[:parts - 1] + 1).tolist())
    return [b - a for a, b in zip([0, *cuts], [*cuts, total])]


def graph_families(count: int, *, seed: int = 0, leaves: int = LEAVES, clumps: tuple[int, ...] = CLUMPS,
                   bare: tuple[int, int] = BARE, max_degree: int = MAX_DEGREE) -> dict[str, torch.Tensor]:
    """`count` "hairy cycles" in one batch: a cycle with 6 pendant leaves, hung on cycle nodes
    that form 2 (class 0), 3 (class 1) or 6 (class 2) runs of consecutive nodes — the
    leaves in two clumps, in three, or spread out one by one — between 6 and 14 cycle nodes
    without a leaf (18 to 26 nodes in all).

    Node features are one-hot degrees, which differ from node to node, so mean aggregation
    (SAGE) has something to average, not only GCN's degree normalisation; but every graph
    of a given size has the same degrees whatever its class (6 of degree 1, 6 of degree 3,
    the rest 2), so the features alone — and any function of their histogram — tell nothing:
    the class shows only in who neighbours whom (how many degree-3 nodes sit next to another
    one), which one round of message passing sees.  Every three consecutive graphs are one
    of each class, in random order, all of one size: a model that ignores the edges scores
    exactly 1/3 on any `count` divisible by 3.  Node order within a graph is random.

    Returns `x` (N, max_degree + 1) one-hot degrees, `edge_index` (2, E) (both directions),
    `batch` (N,) graph of each node, `y` (count,) classes.
    """
    gen = torch.Generator().manual_seed(seed)
    xs, edges, batch, labels = [], [], [], []
    offset = 0
    for g in range(count):
        if g % len(clumps) == 0:  # a new round: one graph per class, in random order, all of one size
            order = torch.randperm(len(clumps), generator=gen).tolist()
            without_leaf = int(torch.randint(bare[0], bare[1] + 1, (1,), generator=gen))
        label = order[g % len(clumps)]
        carries = []  # per cycle node, in cycle order: does it carry a leaf
        for ones, zeros in zip(_composition(leaves, clumps[label], gen), _composition(without_leaf, clumps[label], gen)):
            carries += [True] * ones + [False] * zeros
        k, n = len(carries), len(carries) + leaves
        pairs = [(i, (i + 1) % k) for i in range(k)] + [(i, k + j) for j, i in enumerate(i for i in range(k) if carries[i])]
        undirected = torch.randperm(n, generator=gen)[torch.tensor(pairs).T]  # (2, n), nodes relabelled at random
        edge_index = torch.cat([undirected, undirected.flip(0)], dim=1)
        degree = torch.bincount(edge_index[1], minlength=n)
        xs.append(torch.nn.functional.one_hot(degree.clamp(max=max_degree), max_degree + 1).float())
        edges.append(edge_index + offset)
        batch.append(torch.full((n,), g))
        labels.append(label)
        offset += n
    return {"x": torch.cat(xs), "edge_index": torch.cat(edges, dim=1), "batch": torch.cat(batch), "y": torch.tensor(labels)}
