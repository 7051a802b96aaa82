"""The gnn assignment's three tasks over 10 seeds: does every SPEC-compliant model meet each
threshold, and does every broken one miss it?  (`tests/test_gnn_oracles.py` runs 2 seeds.)

Runs the hidden tests' own task functions (same data, probes, budgets, thresholds) in this
process, on one thread, with the grader's initial weights drawn from seeds 0..N-1:

- node classification and link prediction: the reference and a GCN that ignores the edges,
  each evaluated on the reference GCN and with its own forward (the lower counts);
- graph classification: classifiers of GCN and SAGE layers in every order and depth (the
  SPEC leaves the mix open) and broken ones (no edges, pooling that ignores `batch`, the
  last node of each graph instead of the mean): trained accuracy and the mean accuracy of
  the judge's untrained weight draws.

Usage: python bench/gnn_tasks.py [SEEDS]
"""

from __future__ import annotations

import importlib.util
import statistics
import sys
import time
import types
from pathlib import Path

import torch
import torch.nn as nn

from autograder.course import assignment
from autograder.judge.run import reference_for
from autograder.judge.subject import LocalSubject

ROOT = Path(__file__).resolve().parent.parent
REFERENCE = reference_for("gnn")
R = REFERENCE.module


def _load(path: Path, name: str) -> types.ModuleType:
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


TASKS = _load(assignment("gnn").hidden_tests, "gnn_hidden_tasks")


def classifier(kinds: str, *, pool: str = "mean", edges: bool = True, last_relu: bool = True) -> LocalSubject:
    """The reference module with a GraphClassifier of `kinds` ("G": GCNLayer, "S": SAGELayer)."""

    class GraphClassifier(nn.Module):
        def __init__(self, in_channels: int, hidden_channels: int, num_classes: int) -> None:
            super().__init__()
            sizes = [in_channels] + [hidden_channels] * len(kinds)
            self.convs = nn.ModuleList((R.GCNLayer if k == "G" else R.SAGELayer)(a, b) for k, a, b in zip(kinds, sizes[:-1], sizes[1:]))
            self.readout = nn.Linear(hidden_channels, num_classes)

        def forward(self, x: torch.Tensor, edge_index: torch.Tensor, batch: torch.Tensor) -> torch.Tensor:
            if not edges:
                edge_index = edge_index[:, :0]
            for i, conv in enumerate(self.convs):
                x = conv(x, edge_index)
                if last_relu or i < len(self.convs) - 1:
                    x = torch.relu(x)
            graphs = int(batch.max()) + 1
            if pool == "mean":
                pooled = R.global_mean_pool(x, batch)
            elif pool == "all":
                pooled = x.mean(0, keepdim=True).expand(graphs, -1)
            else:  # "last": out[batch] = x keeps one node per graph
                pooled = x.new_zeros(graphs, x.shape[1])
                pooled[batch] = x
            return self.readout(pooled)

    namespace = types.SimpleNamespace(**{k: getattr(R, k) for k in dir(R) if not k.startswith("__")})
    namespace.GraphClassifier = GraphClassifier
    return LocalSubject(namespace)


CORRECT = {
    "GCN-GCN (reference)": REFERENCE, "SAGE-SAGE": classifier("SS"), "SAGE-GCN": classifier("SG"), "GCN-SAGE": classifier("GS"),
    "GCN x3": classifier("GGG"), "SAGE x3": classifier("SSS"), "GCN-SAGE-GCN": classifier("GSG"), "SAGE-GCN-SAGE": classifier("SGS"),
    "GCN-GCN, no ReLU at end": classifier("GG", last_relu=False), "GCN (one layer)": classifier("G"), "SAGE (one layer)": classifier("S"),
}
BROKEN = {
    "no edges (GCN-GCN)": classifier("GG", edges=False), "no edges (SAGE-SAGE)": classifier("SS", edges=False),
    "ignores batch (GCN-GCN)": classifier("GG", pool="all"), "last node (GCN-GCN)": classifier("GG", pool="last"),
    "last node (SAGE-SAGE)": classifier("SS", pool="last"),
}


def _row(label: str, values: list[float], threshold: float, seconds: float, extra: str = "") -> tuple[str, int]:
    ok = sum(v >= threshold for v in values)
    line = (f"{label:40s} min {min(values):.3f}  median {statistics.median(values):.3f}  max {max(values):.3f}  "
            f">= {threshold}: {ok}/{len(values)}  {seconds:.2f} s/seed{extra}")
    return line, ok


def main(seeds: int = 10) -> int:
    torch.set_num_threads(1)
    no_edges = LocalSubject(_load(ROOT / "tests/submissions/gnn/broken_gcn_ignores_edges.py", "gnn_bench_no_edges"))
    wrong = []
    for task, fn, threshold in (("node accuracy", TASKS.node_accuracy, TASKS.NODE_ACCURACY), ("link AUC", TASKS.link_auc, TASKS.LINK_AUC)):
        for label, subject, correct in (("reference", REFERENCE, True), ("GCN without edges", no_edges, False)):
            start = time.perf_counter()
            results = [fn(subject, init_seed=s, evaluator=REFERENCE) for s in range(seeds)]
            line, ok = _row(f"{task}: {label}", [v for v, _ in results], threshold, (time.perf_counter() - start) / seeds,
                            f"  (lower: {sorted({w for _, w in results})})")
            print(line, flush=True)
            if ok != (seeds if correct else 0):
                wrong.append(f"{task}: {label}")
    for group, table in (("correct", CORRECT), ("broken", BROKEN)):
        for label, subject in table.items():
            start = time.perf_counter()
            results = [TASKS.graph_accuracy(subject, init_seed=s) for s in range(seeds)]
            untrained = [r.untrained for r in results]
            follows = all(r.relabelled == r.trained for r in results)  # the read-out's classes reordered: the predictions follow
            line, ok = _row(f"graph: {group} {label}", [r.trained for r in results], TASKS.GRAPH_ACCURACY,
                            (time.perf_counter() - start) / seeds, f"  untrained mean <= {max(untrained):.3f}, relabelled follows: {follows}")
            print(line, flush=True)
            if group == "correct" and (ok != seeds or max(untrained) > TASKS.UNTRAINED_GRAPH_ACCURACY or not follows):
                wrong.append(label)
            if group == "broken" and ok:
                wrong.append(label)
    print("every requirement met" if not wrong else f"FAILED: {wrong}")
    return 1 if wrong else 0


if __name__ == "__main__":
    sys.exit(main(int(sys.argv[1]) if len(sys.argv) > 1 else 10))
