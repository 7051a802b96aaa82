"""`torch._dynamo` stays unimported while the grader trains (`autograder.worker.dynamo`),
and is the real one as soon as anything else uses it.  Each case runs in a fresh
interpreter: this pytest process may have imported the real module long ago."""

from __future__ import annotations

import subprocess
import sys
import textwrap

from autograder.worker.isolation import PROJECT_DIR


def fresh_python(code: str) -> str:
    """The standard output of `code` run by a fresh interpreter in the project."""
    done = subprocess.run([sys.executable, "-c", textwrap.dedent(code)], capture_output=True, text=True, cwd=PROJECT_DIR,
                          timeout=300)
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout


TRAIN = """
    import sys
    import torch
    import autograder.worker.probes  # installs the stand-in, as in every judge, worker and `nnzoo test`
    from autograder.worker.warmup import warm_up

    warm_up()  # every kind of layer, loss and optimizer the probes use: step, zero_grad, state dicts
    model = torch.nn.Linear(3, 2)
    optimizer = torch.optim.Adam(model.parameters(), lr=0.1)
    optimizer.load_state_dict(optimizer.state_dict())
    for _ in range(3):
        optimizer.zero_grad()
        model(torch.ones(4, 3)).pow(2).sum().backward()
        optimizer.step()
    loaded = sorted(m for m in sys.modules if m == "torch._dynamo" or m.startswith("torch._dynamo."))
    print(type(sys.modules["torch._dynamo"]).__name__, loaded, model.weight.sum().item())
"""


def test_training_leaves_torch_dynamo_unimported_and_trains_as_with_it():
    out = fresh_python(TRAIN).split()
    assert out[0] == "DynamoStandIn" and out[1] == "['torch._dynamo']", out
    with_real = fresh_python("import torch._dynamo\n" + textwrap.dedent(TRAIN)).split()
    assert with_real[0] == "module", with_real
    assert out[-1] == with_real[-1], "the weights after three Adam steps must not depend on the stand-in"


def test_any_other_use_gets_the_real_torch_dynamo():
    out = fresh_python("""
        import sys
        import torch
        import autograder.worker.probes
        from torch import _dynamo as held_early  # a reference to the stand-in, kept
        assert type(sys.modules["torch._dynamo"]).__name__ == "DynamoStandIn"
        assert not hasattr(held_early, "__file__")  # a scan of sys.modules is not a use
        limit = torch._dynamo.config.cache_size_limit  # an attribute: the real module
        real = sys.modules["torch._dynamo"]
        assert type(real).__name__ == "module" and torch._dynamo is real and held_early.reset == real.reset
        doubled = torch.compile(lambda x: 2 * x, backend="eager")(torch.ones(2))
        import torch._dynamo.utils  # a submodule
        print(limit > 0, doubled.tolist())
    """)
    assert out.split() == ["True", "[2.0,", "2.0]"]


def test_a_submodule_import_first_gets_the_real_torch_dynamo():
    out = fresh_python("""
        import sys
        import torch
        import autograder.worker.probes
        import torch._dynamo.config
        print(type(sys.modules["torch._dynamo"]).__name__, torch._dynamo.config.cache_size_limit > 0)
    """)
    assert out.split() == ["module", "True"]



def test_a_real_module_that_cannot_be_imported_leaves_the_stand_in_and_training_works():
    out = fresh_python("""
        import sys
        import torch
        import autograder.worker.probes
        import autograder.worker.dynamo as dynamo

        def unreadable(name, *args):  # as in a worker whose root does not hold it
            raise ImportError(f"no {name} here")

        dynamo.importlib.import_module = unreadable
        try:
            torch._dynamo.config
        except ImportError as exc:
            print("raised:", exc)
        model = torch.nn.Linear(2, 1)
        optimizer = torch.optim.Adam(model.parameters())
        model(torch.ones(1, 2)).sum().backward()
        optimizer.step()
        optimizer.zero_grad()
        print(type(sys.modules["torch._dynamo"]).__name__, type(torch._dynamo).__name__)
    """)
    assert out.splitlines() == ["raised: no torch._dynamo here", "DynamoStandIn DynamoStandIn"], out

def test_after_the_warm_up_a_grading_imports_nothing_of_torch_or_sympy():
    """What the real `torch._dynamo` used to pull in with it, a worker must not import from
    the file system in every grading: the fork server's warm-up covers what the probes use
    (a gradient given for a non-scalar output imports torch's symbolic shapes and sympy)."""
    out = fresh_python("""
        import contextlib, io, sys
        import pytest
        import autograder.worker.serve  # as the fork server: the stand-in, then the warm-up
        from autograder.worker.warmup import warm_up
        from autograder.course import assignment, names

        warm_up()
        before = set(sys.modules)
        for a in names(hidden=True):  # each reference's hidden tests, probes run in this process
            with contextlib.redirect_stdout(io.StringIO()):
                assert pytest.main([str(assignment(a).hidden_tests), "-q", "-p", "no:cacheprovider",
                                    "--import-mode=importlib"]) == 0, a
        print(sorted(m for m in set(sys.modules) - before if m.split(".")[0] in ("torch", "sympy", "mpmath")))
    """)
    assert out.split() == ["[]"], out
