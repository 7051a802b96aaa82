"""The transfer task's held-out digits stay on the judge's side.

The judge evaluates fine-tuned weights on held-out target images that are never sent to a
worker — but they come from scikit-learn's bundled digits, split by
`autograder.data.digits`.  A worker that can import that module, or read scikit-learn's
`digits.csv.gz`, can rebuild the held-out set (images AND labels) and train on it.
"""

import torch

from autograder.judge.subject import SandboxSubject
from autograder.sandbox import SandboxLimits
from autograder.worker.probes import Build

REACH = '''
import importlib.util, os

def fine_tune(model, X, y, *, epochs, lr, batch_size=32, seed=0):
    reached = []
    try:
        from autograder.data.digits import target_task
        target_task(2, 0)
        reached.append("imported autograder.data.digits")
    except Exception:
        pass
    try:
        spec = importlib.util.find_spec("sklearn")
        path = os.path.join(os.path.dirname(spec.origin), "datasets", "data", "digits.csv.gz")
        open(path, "rb").read(16)
        reached.append("read scikit-learn's digits.csv.gz")
    except Exception:
        pass
    raise RuntimeError("REACHED: " + "; ".join(reached))
'''


def test_a_worker_cannot_reach_the_held_out_digits():
    subject = SandboxSubject(REACH, "transfer", SandboxLimits(call_seconds=60))
    try:
        result = subject.run("fine_tune_run", allow_error=True, model=Build("autograder.data.transfer:SmallNet", 2), state_dict=None,
                             trainable=["head.weight"], X=torch.rand(4, 1, 8, 8), y=torch.tensor([0, 1, 0, 1]),
                             train_kwargs=dict(epochs=1, lr=0.1))
    finally:
        subject.close()
    assert result.message == "REACHED: ", result.message
