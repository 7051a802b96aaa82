"""The transfer task's held-out digits stay on the judge's side.

The judge evaluates fine-tuned weights on held-out target images that are never sent to a
worker — but they come from scikit-learn's bundled digits, split by
`autograder.data.digits`.  A worker that can import that module, or read scikit-learn's
`digits.csv.gz`, can rebuild the held-out set (images AND labels) and train on it.  Only the
data is hidden: scikit-learn itself stays importable (a student may use `sklearn.metrics`).
"""

import pytest
import torch

from autograder.errors import StudentCodeError
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
    try:
        from sklearn.datasets import load_digits
        load_digits()
        reached.append("loaded scikit-learn's digits")
    except Exception:
        pass
    import sklearn.metrics  # the package stays importable: only its data is hidden
    sklearn.metrics.accuracy_score([0, 1], [0, 1])
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


def test_a_data_set_loaded_at_import_fails_with_the_reason():
    """Exploration left at the top of the file (`load_digits()`) cannot find the hidden data: the
    student reads why, and where such code belongs."""
    subject = SandboxSubject("from sklearn.datasets import load_digits\nDIGITS = load_digits()\n", "transfer", SandboxLimits(call_seconds=60))
    try:
        with pytest.raises(StudentCodeError) as caught:
            subject.run("freeze_grads", model=Build("autograder.data.transfer:SmallNet", 2), state_dict=None, dtype=torch.float64,
                        x=torch.rand(2, 1, 8, 8, dtype=torch.float64), cotangent=torch.rand(2, 2, dtype=torch.float64))
    finally:
        subject.close()
    message = str(caught.value)
    assert "FileNotFoundError" in message and "data sets" in message and '__name__ == "__main__"' in message, message
