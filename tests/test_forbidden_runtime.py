"""Forbidden built-ins are caught when called, in the sandboxed worker, whatever name the
student's code reaches them by — the escapes an outside reviewer found past the static
scan — and the judge turns the worker's exception into the "forbidden built-in" verdict.
Correct hand-written code is never flagged.  (The watch itself: tests/test_forbidden_watch.py.)
"""

from __future__ import annotations

import pytest
import torch

from autograder.errors import StudentCodeError
from autograder.judge.scan import scan_source
from autograder.judge.subject import SandboxSubject
from autograder.judge.verdict import verdict_for
from autograder.worker.limits import SandboxLimits
from autograder.worker.spec import Build

LIMITS = SandboxLimits(call_seconds=20)
LINEAR = ("torch.nn.Linear", "torch.nn.functional.linear")
SDPA = ("torch.nn.functional.scaled_dot_product_attention",)
MHA = ("torch.nn.MultiheadAttention", "torch.nn.functional.multi_head_attention_forward")
LAYER = ("torch.nn.TransformerEncoderLayer", "torch.nn.TransformerEncoder")
CELL = ("torch.nn.LSTMCell", "torch.lstm_cell", "torch._VF", "torch.nn.modules.rnn")
PYG = ("torch_geometric", "torch_scatter", "torch_sparse")

LINEAR_MODULE = """
import torch
{imports}

class Linear(torch.nn.Module):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(out_features, in_features))
        self.bias = torch.nn.Parameter(torch.zeros(out_features)) if bias else None

    def forward(self, x):
        return {body}
"""


def linear_using(body: str, imports: str = "") -> str:
    return LINEAR_MODULE.format(body=body, imports=imports)


def run_in_worker(source: str, name: str, forbid: tuple[str, ...], **request) -> object:
    subject = SandboxSubject(source, name, LIMITS)
    subject.forbid = forbid
    try:
        return subject.run("run", backward=False, **request)
    finally:
        subject.close()


def caught(source: str, name: str, forbid: tuple[str, ...], **request) -> StudentCodeError:
    with pytest.raises(StudentCodeError) as info:
        run_in_worker(source, name, forbid, **request)
    return info.value


LINEAR_CALL = dict(model=Build("Linear", 3, 2), args=(torch.randn(4, 3),))


@pytest.mark.parametrize("body, imports", [
    ("torch._C._nn.linear(x, self.weight, self.bias)", ""),
    ("importlib.import_module('torch.nn.functional').linear(x, self.weight, self.bias)", "import importlib"),
    ("getattr(torch.nn.functional, 'lin' + 'ear')(x, self.weight, self.bias)", ""),
    ("pkgutil.resolve_name('torch.nn.modules.linear:Linear')(3, 2)(x)", "import pkgutil"),
    ("torch.ops.aten.linear(x, self.weight, self.bias)", ""),
], ids=["private name", "importlib", "built string", "pkgutil", "torch.ops"])
def test_linear_reached_by_any_name_is_caught_with_the_students_line(body, imports):
    err = caught(linear_using(body, imports), "mlp", LINEAR, **LINEAR_CALL)
    assert err.type_name == "ForbiddenCall" and "forbidden built-in" in err.message
    assert "mlp.py, line" in err.message
    verdict = verdict_for(err, in_process=False)
    assert verdict.status == "failed" and verdict.reason == "policy" and verdict.message.startswith("forbidden built-in")


def test_hand_written_linear_is_not_flagged():
    out = run_in_worker(linear_using("torch.einsum('...i,oi->...o', x, self.weight) + self.bias"), "mlp", LINEAR,
                        **LINEAR_CALL)["output"]
    assert out.shape == (4, 2)


POOL_AT_IMPORT = """
import torch
from concurrent.futures import ThreadPoolExecutor

POOL = ThreadPoolExecutor(1)
POOL.submit(lambda: None).result()  # its thread starts now, at import, before any watch
LINEAR = getattr(getattr(torch._C, "_n" + "n"), "lin" + "ear")

class Linear(torch.nn.Module):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(out_features, in_features))
        self.bias = torch.nn.Parameter(torch.zeros(out_features)) if bias else None

    def forward(self, x):
        return POOL.submit({work}).result()
"""

RAW_THREAD_AT_IMPORT = """
import queue
import torch

start = getattr(__import__("_th" + "read"), "start_new_" + "thread"){unwrap}
jobs, answers = queue.Queue(), queue.Queue()

def serve():
    while True:
        x, w, b = jobs.get()
        try:
            answers.put({work})
        except Exception:  # the watch's exception, swallowed: the violation is raised at its end
            answers.put(x @ w.T + b)

start(serve, ())

class Linear(torch.nn.Module):
    def __init__(self, in_features, out_features, bias=True):
        super().__init__()
        self.weight = torch.nn.Parameter(torch.randn(out_features, in_features))
        self.bias = torch.nn.Parameter(torch.zeros(out_features)) if bias else None

    def forward(self, x):
        jobs.put((x, self.weight, self.bias))
        return answers.get()
"""


def test_a_thread_pool_started_at_import_is_watched_when_its_work_runs_in_a_probe():
    """The thread exists before any watch; its work runs during the probe (an outside
    reviewer's escape: 23/23 for an mlp whose Linear called F.linear this way)."""
    err = caught(POOL_AT_IMPORT.format(work="LINEAR, x, self.weight, self.bias"), "mlp", LINEAR, **LINEAR_CALL)
    assert err.type_name == "ForbiddenCall" and "F.linear" in err.message
    hand_written = POOL_AT_IMPORT.format(work="lambda: x @ self.weight.T + self.bias")
    assert run_in_worker(hand_written, "mlp", LINEAR, **LINEAR_CALL)["output"].shape == (4, 2)


def test_a_thread_started_below_threading_carries_the_watch_too():
    raw = RAW_THREAD_AT_IMPORT.format(unwrap="", work="torch._C._nn.linear(x, w, b)")
    err = caught(raw, "mlp", LINEAR, **LINEAR_CALL)
    assert err.type_name == "ForbiddenCall" and "F.linear" in err.message


def test_a_thread_started_past_the_relay_makes_every_watched_probe_fail():
    """A thread started through the original `_thread.start_new_thread` (taken out of the
    relay's closure) carries no modes: whatever it runs, the watch cannot see it."""
    unrelayed = RAW_THREAD_AT_IMPORT.format(unwrap='.__closure__[0].cell_contents', work="x @ w.T + b")
    err = caught(unrelayed, "mlp", LINEAR, **LINEAR_CALL)
    assert err.type_name == "ForbiddenCall" and "a Python thread the watch cannot see" in err.message
    assert run_in_worker(unrelayed, "mlp", (), **LINEAR_CALL)["output"].shape == (4, 2)  # no watch, no verdict


ATTENTION_MODULE = """
import torch
import torch.nn.modules.activation as activation
import torch.nn.modules.transformer as transformer

def scaled_dot_product_attention(q, k, v, mask=None):
    out = torch._C._nn.scaled_dot_product_attention(q, k, v)
    return out, None

class MultiHeadSelfAttention(activation.MultiheadAttention):
    def __init__(self, d_model, num_heads, bias=True):
        super().__init__(d_model, num_heads, bias=bias, batch_first=True)

    def forward(self, x, mask=None):
        return super().forward(x, x, x, need_weights=False)[0]

def TransformerEncoderLayer(d_model, num_heads, dim_feedforward, dropout=0.0, norm_first=True):
    return transformer.TransformerEncoderLayer(d_model, num_heads, dim_feedforward, dropout, batch_first=True)
"""


@pytest.mark.parametrize("forbid, request_", [
    (SDPA, dict(call="scaled_dot_product_attention", args=(torch.randn(2, 3, 4), torch.randn(2, 3, 4), torch.randn(2, 3, 4)))),
    (MHA, dict(model=Build("MultiHeadSelfAttention", 4, 2), args=(torch.randn(2, 3, 4),))),
    (LAYER, dict(model=Build("TransformerEncoderLayer", 4, 2, 8), args=(torch.randn(2, 3, 4),))),
], ids=["torch._C._nn.scaled_dot_product_attention", "modules.activation.MultiheadAttention",
        "modules.transformer.TransformerEncoderLayer"])
def test_attention_built_ins_under_their_module_paths_are_caught(forbid, request_):
    err = caught(ATTENTION_MODULE, "attention", forbid, **request_)
    assert err.type_name == "ForbiddenCall" and "attention.py" in err.message


def test_lstm_cell_through_the_variable_functions_is_caught():
    source = """
import torch

class LSTMCell(torch.nn.Module):
    def __init__(self, input_size, hidden_size, bias=True):
        super().__init__()
        self.weight_ih = torch.nn.Parameter(torch.randn(4 * hidden_size, input_size))
        self.weight_hh = torch.nn.Parameter(torch.randn(4 * hidden_size, hidden_size))
        self.bias_ih = torch.nn.Parameter(torch.zeros(4 * hidden_size))
        self.bias_hh = torch.nn.Parameter(torch.zeros(4 * hidden_size))

    def forward(self, x, state=None):
        if state is None:
            zeros = x.new_zeros(x.shape[0], self.weight_hh.shape[1])
            state = (zeros, zeros)
        return torch._C._VariableFunctions.lstm_cell(x, state, self.weight_ih, self.weight_hh, self.bias_ih, self.bias_hh)
"""
    err = caught(source, "rnn", CELL, model=Build("LSTMCell", 3, 5), args=(torch.randn(2, 3),))
    assert err.type_name == "ForbiddenCall" and "rnn.py, line" in err.message


def test_pyg_reached_by_a_string_is_refused():
    source = """
import pkgutil

def scatter(src, index, num_nodes, reduce="sum"):
    pyg_scatter = pkgutil.resolve_name("torch_geometric.utils:scatter")
    return pyg_scatter(src, index, 0, dim_size=num_nodes, reduce=reduce)
"""
    err = caught(source, "gnn", PYG, call="scatter", args=(torch.ones(3, 2), torch.tensor([0, 1, 1]), 2))
    assert err.type_name == "ForbiddenCall" and "torch_geometric" in err.message


def test_switching_the_watch_off_fails_the_probe_and_is_flagged_for_review():
    body = "torch._C._nn.linear(x, self.weight, self.bias)"
    tamper = linear_using(body) + "\nimport torch.overrides\nwhile torch.overrides._get_current_function_mode_stack():\n" \
                                  "    torch.overrides._pop_mode()\n"
    # popping at import happens before any probe: the watch of each probe sees the call
    assert caught(tamper, "mlp", LINEAR, **LINEAR_CALL).type_name == "ForbiddenCall"
    in_forward = linear_using("(torch.overrides._pop_mode(), torch._C._nn.linear(x, self.weight, self.bias))[1]",
                              "import torch.overrides")
    assert caught(in_forward, "mlp", LINEAR, **LINEAR_CALL).type_name == "ForbiddenCall"
    assert any("_pop_mode" in hit for hit in scan_source(in_forward).suspicious())


BLIND_THE_WATCH = {
    "through a function's globals": "watch = vars(torch._C)['_dispatch_call' '_boxed'].__globals__['Watch']\n",
    "through the class tree": "watch = next(c for c in object.__subclasses__() if c.__name__ == 'Watch')\n",
}


@pytest.mark.parametrize("reach", BLIND_THE_WATCH.values(), ids=BLIND_THE_WATCH.keys())
def test_making_the_watchs_own_checks_no_ops_fails_every_watched_probe_and_is_flagged(reach):
    """The student's code can reach the watch's class at import and make its checks no-ops
    for the worker's life: F.linear, the built-in cells and sdpa, taken by `vars(module)[...]`,
    kept full marks with nothing flagged (an audit, 2026-12-04).  The watch now refuses to
    run on changed code of its own, the scan resolves `vars(X)["name"]`, and flags the reach."""
    source = linear_using("vars(torch._C._nn)['linear'](x, self.weight, self.bias)") + "\n" + reach + \
        "watch.event = watch.on_call = watch.on_build = lambda self, *args, **kwargs: None\n"
    err = caught(source, "mlp", LINEAR, **LINEAR_CALL)
    assert err.type_name == "ForbiddenCall" and "own code was changed (Watch.event" in err.message, err.message
    scanned = scan_source(source)
    assert scanned.forbidden(list(LINEAR)) == ["torch.nn.functional.linear"]
    assert any(name in hit for hit in scanned.suspicious() for name in ("__globals__", "__subclasses__"))


def test_replacing_a_name_the_watch_imported_fails_every_watched_probe():
    """`target_for` replaced in the watch's module (every forbidden name then watched for
    nothing) kept F.linear at 23/23 (an audit, 2026-12-04): every global of the module is
    compared with what it held."""
    source = linear_using("torch._C._nn.linear(x, self.weight, self.bias)") + \
        "g = vars(torch._C)['_dispatch_call' '_boxed'].__globals__\ng['target_for'] = g['Target']\n"
    err = caught(source, "mlp", LINEAR, **LINEAR_CALL)
    assert err.type_name == "ForbiddenCall" and "own code was changed (target_for)" in err.message, err.message


def test_switching_the_watch_off_by_its_flag_fails_the_probe_and_every_reach_is_flagged():
    """The active watch, taken from the closure of the thread hook (`threading.getprofile`,
    `inspect.getclosurevars`) and set inactive in a forward, let F.linear through (an audit,
    2026-12-04).  The flag's change fails the probe; the scan flags the ways to the watch and
    a torch module's namespace read as a dict."""
    quiet = ("import inspect\nimport threading\n\ndef _quiet():\n"
             "    inspect.getclosurevars(threading.getprofile()).nonlocals['watch'].active = False\n")
    source = linear_using("(_quiet(), vars(torch._C._nn).get('lin' + 'ear')(x, self.weight, self.bias))[1]") + quiet
    err = caught(source, "mlp", LINEAR, **LINEAR_CALL)
    assert err.type_name == "ForbiddenCall" and "its `active` flag" in err.message, err.message
    flagged = " ".join(scan_source(source).suspicious())
    assert all(name in flagged for name in ("inspect.getclosurevars", "threading.getprofile", "torch._C._nn's namespace read as a dict"))
    assert scan_source("import torch\nf = vars(torch._C._nn).get('linear')\n").forbidden(list(LINEAR)) == ["torch.nn.functional.linear"]
    assert any("inspect.getmodule" in hit for hit in scan_source("import inspect\nm = inspect.getmodule(print)\n").suspicious())


def test_a_main_block_self_check_is_not_a_use_of_the_built_in():
    """Comparing one's own layer with the built-in under `if __name__ == "__main__":` never
    runs on import; its `else:` does, and so does the block of a module that assigns
    `__name__` (which is flagged)."""
    check = "\nif __name__ == '__main__':\n    import torch.nn as nn\n    print(nn.Linear(2, 3))\n"
    assert scan_source(check).forbidden(list(LINEAR)) == []
    assert scan_source(check.replace("if __name__ == '__main__'", "if '__main__' == __name__")).forbidden(list(LINEAR)) == []
    runs = "\nimport torch.nn as nn\nif __name__ == '__main__':\n    pass\nelse:\n    L = nn.Linear\n"
    assert scan_source(runs).forbidden(list(LINEAR)) == ["torch.nn.Linear"]
    renamed = scan_source("__name__ = '__main__'" + check)
    assert renamed.forbidden(list(LINEAR)) == ["torch.nn.Linear"]
    assert any("__name__" in hit for hit in renamed.suspicious())
    for rename in ("globals().update(__name__='__main__')", "import sys\nsys.modules[__name__].__name__ = '__main__'"):
        assert scan_source(rename + check).forbidden(list(LINEAR)) == ["torch.nn.Linear"], rename
    # a notebook kernel runs the code as __main__: there the block has run
    assert scan_source(check, imported=False).forbidden(list(LINEAR)) == ["torch.nn.Linear"]
    tampering = scan_source("\nif __name__ == '__main__':\n    import sys\n    del sys.modules['torch']\n")
    assert any(hit.startswith("sys.modules") for hit in tampering.suspicious())


def test_a_self_test_function_nothing_calls_is_not_a_use_of_the_built_in():
    """A pytest-style `def test_*` comparing with the built-in, kept in the student's file,
    never runs on import; called, decorated, or with the built-in in its defaults, it counts."""
    own = "import torch.nn as nn\nclass Linear: pass\ndef test_mine():\n    assert nn.Linear(2, 3)\n"
    assert scan_source(own).forbidden(list(LINEAR)) == []
    for runs in (own + "test_mine()\n", own + "check = globals()['test_mine']\n",
                 "import torch.nn as nn\ndef test_mine(layer=nn.Linear(2, 2)):\n    pass\n",
                 "import atexit\nimport torch.nn as nn\n@atexit.register\ndef test_mine():\n    nn.Linear(2, 2)\n"):
        assert scan_source(runs).forbidden(list(LINEAR)) == ["torch.nn.Linear"], runs


def test_a_self_check_and_its_helpers_called_only_under_main_are_not_a_use_of_the_built_in():
    """A helper comparing with the built-in, called only from the `__main__` block (directly or
    through another such helper), never runs on import; called or named anywhere else, or
    named like a function the grader calls (`api`), it counts."""
    own = ("import torch.nn as nn\nclass Linear: pass\ndef _against(layer):\n    return nn.Linear(2, 3)\n"
           "def check():\n    return _against(Linear())\nif __name__ == '__main__':\n    check()\n")
    assert scan_source(own).forbidden(list(LINEAR)) == []
    for runs in (own + "check()\n", own + "hooks = {'check': check}\n", own + "f = globals()['_against']\n",
                 own.replace("if __name__ == '__main__':\n    check()", "def relu(x):\n    return check()")):
        assert scan_source(runs).forbidden(list(LINEAR)) == ["torch.nn.Linear"], runs
    assert scan_source(own, api=frozenset({"check"})).forbidden(list(LINEAR)) == ["torch.nn.Linear"]
    # a name running code builds (globals()[...], getattr with a built name) or a module __getattr__ reaches helpers too
    reached = own + "Linear.forward = globals()['_agai' + 'nst']\n"
    dunder = "import torch.nn as nn\ndef __getattr__(name):\n    return nn.Linear\nif __name__ == '__main__':\n    __getattr__('x')\n"
    for runs in (reached, dunder):
        assert scan_source(runs).forbidden(list(LINEAR)) == ["torch.nn.Linear"], runs
    twice = "import torch.nn as nn\ndef test_mine():\n    nn.Linear(2, 3)\ndef test_mine():\n    nn.Linear(2, 3)\n"
    assert scan_source(twice).forbidden(list(LINEAR)) == []  # a notebook's cell run twice: still a self-check


SELF_CHECKS = {
    "a decorated helper": "@torch.no_grad()\ndef _against(layer):\n    return nn.Linear(2, 3)\n"
                          "if __name__ == '__main__':\n    _against(Linear())\n",
    "a unittest case": "class CheckLinear(unittest.TestCase):\n    def test_it(self):\n        nn.Linear(2, 3)\n"
                       "if __name__ == '__main__':\n    unittest.main()\n",
    "a pytest class": "class TestLinear:\n    @pytest.mark.parametrize('n', [1, 2])\n    def test_it(self, n):\n"
                      "        nn.Linear(n, 3)\n",
    "a helper beside everyday getattr and modules()": (
        "def bias_of(layer):\n    return getattr(layer, 'bias', None)\ndef act(name):\n    return getattr(torch, name)\n"
        "def count(model):\n    model.eval()\n    return len(list(model.modules()))\n"
        "def _against(layer):\n    return nn.Linear(2, 3)\nif __name__ == '__main__':\n    _against(Linear())\n"),
    "a test class's helper": "def _built_in():\n    return nn.Linear(2, 3)\nclass TestLinear:\n    def test_it(self):\n"
                             "        assert _built_in()\n",
}
HEAD = "import unittest\nimport pytest\nimport torch\nimport torch.nn as nn\nclass Linear: pass\n"


@pytest.mark.parametrize("check", SELF_CHECKS.values(), ids=SELF_CHECKS.keys())
def test_self_checks_that_importing_never_runs_are_not_a_use_of_the_built_in(check):
    """Decorated self-checks, test classes a runner would find, helpers beside a `getattr` of
    a constant name or `model.modules()`: defining them runs none of their bodies."""
    assert scan_source(HEAD + check).forbidden(list(LINEAR)) == []


RUN_ANYWAY = {
    "a decorator of the student's": "def now(f):\n    f()\n    return f\n@now\ndef test_it():\n    nn.Linear(2, 3)\n",
    "a decorator that calls": "import torch.utils.checkpoint as cp\n@cp.checkpoint\ndef test_it():\n    nn.Linear(2, 3)\n",
    "a metaclass": "class Meta(type):\n    pass\nclass TestIt(metaclass=Meta):\n    def test(self):\n        nn.Linear(2, 3)\n",
    "a base of the student's": "class Base:\n    def __init_subclass__(cls):\n        cls().test()\n"
                               "class TestIt(Base):\n    def test(self):\n        nn.Linear(2, 3)\n",
    "a class body": "class TestIt(unittest.TestCase):\n    layer = nn.Linear(2, 3)\n",
    "a method's default": "class TestIt(unittest.TestCase):\n    def test(self, layer=nn.Linear(2, 3)):\n        pass\n",
    "a runner on import": "class CheckIt(unittest.TestCase):\n    def test(self):\n        nn.Linear(2, 3)\nunittest.main(exit=False)\n",
    "the subclasses of TestCase": "class CheckIt(unittest.TestCase):\n    def test(self):\n        nn.Linear(2, 3)\n"
                                  "def relu(x):\n    return unittest.TestCase.__subclasses__()[0]().test()\n",
    "a built name on the module": "import mlp\ndef _against():\n    return nn.Linear(2, 3)\n"
                                  "def relu(x):\n    return getattr(mlp, '_aga' + 'inst')()\nif __name__ == '__main__':\n    _against()\n",
    "a built name on anything": "def _against():\n    return nn.Linear(2, 3)\ndef relu(x, owner):\n    return getattr(owner, x)()\n"
                                "if __name__ == '__main__':\n    _against()\n",
    "a pytest test by a built name": "def test_it():\n    nn.Linear(2, 3)\ndef relu(x):\n    return globals()['test_' + 'it']()\n",
    "the builtins by a constant name": "import builtins\ndef _against():\n    return nn.Linear(2, 3)\n"
                                       "def relu(x):\n    return getattr(builtins, 'eval')('_aga' + 'inst()')\n"
                                       "if __name__ == '__main__':\n    _against()\n",
    "an imported name": "from mlp import _against as check\ndef _against():\n    return nn.Linear(2, 3)\n"
                        "def relu(x):\n    return check()\nif __name__ == '__main__':\n    _against()\n",
    "pydoc's locate": "import pydoc\ndef _against():\n    return nn.Linear(2, 3)\n"
                      "def relu(x):\n    return pydoc.locate('mlp._aga' + 'inst')()\nif __name__ == '__main__':\n    _against()\n",
    "an unpickled global": "import _pickle\ndef _against():\n    return nn.Linear(2, 3)\n"
                           "def relu(x):\n    return _pickle.loads(x)()\nif __name__ == '__main__':\n    _against()\n",
}


@pytest.mark.parametrize("source", RUN_ANYWAY.values(), ids=RUN_ANYWAY.keys())
def test_self_checks_that_may_run_count(source):
    """A decorator or a base of the student's, a class body or a method's default, a test
    runner called on import, or code reaching functions by a built name: the self-check may run."""
    assert scan_source(HEAD + source).forbidden(list(LINEAR)) == ["torch.nn.Linear"]


def test_a_notebooks_self_checks_are_found_inside_its_guarded_cells():
    """A plain notebook's cells run each inside `try: … except BaseException: pass` (an error
    ends only its cell): a self-check cell is still one, a cell that uses the built-in still
    counts."""
    import nbformat

    from autograder.load.notebook import read_notebook

    cells = ["import torch.nn as nn\nclass Linear(nn.Module):\n    pass", "def test_mine():\n    assert nn.Linear(2, 3)",
             "if __name__ == '__main__':\n    print(nn.Linear(2, 3))"]
    for extra, found in (([], []), (["layer = nn.Linear(2, 3)"], ["torch.nn.Linear"])):
        notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(c) for c in cells + extra])
        code = read_notebook(nbformat.writes(notebook).encode()).code
        assert "except BaseException" in code and scan_source(code).forbidden(list(LINEAR)) == found


def test_everyday_attributes_named_like_builtins_are_not_flagged():
    assert scan_source("def f(model):\n    model.eval()\n    import re\n    return re.compile('a')\n").suspicious() == []
    assert scan_source("x = eval('1 + 1')\n").suspicious() == ["eval"]


def test_the_builtins_and_cell_magics_built_at_run_time_are_flagged():
    """Ways to import or run code that no name in the source shows."""
    flagged = {
        "imp = __builtins__['__im' + 'port__']\n": "__builtins__",
        "imp = globals()['__builtins__']\n": "by a string",
        "get_ipython().run_cell_magic('time', '', bytes([120]).decode())\n": "cell magic",
        "get_ipython().run_cell_magic('time', '', cell=''.join(['x']))\n": "cell magic",
    }
    for source, why in flagged.items():
        assert any(why in hit for hit in scan_source(source).suspicious()), source
    assert scan_source("get_ipython().run_cell_magic('time', '', 'x = 1')\n").suspicious() == []


def test_the_static_scan_names_the_escapes_it_can_resolve():
    source = ATTENTION_MODULE + "\nimport torch\nlin = torch._C._nn.linear\ncell = torch._C._VariableFunctions.lstm_cell\n"
    found = scan_source(source).forbidden([*SDPA, *MHA, *LAYER, *LINEAR, "torch.lstm_cell"])
    assert set(found) == {*SDPA, "torch.nn.MultiheadAttention", "torch.nn.TransformerEncoderLayer",
                          "torch.nn.functional.linear", "torch.lstm_cell"}


def test_calls_that_start_processes_or_load_code_are_flagged():
    """Work handed to another process or program (which seccomp denies a grading worker)
    or code loaded from bytes is outside what the run-time watch sees: a person looks."""
    flagged = {
        "import os\nos.posix_spawn('/usr/bin/python3', ['python3', '-c', '0'], {})\n": "os.posix_spawn",
        "from os import execv\n": "os.execv",
        "import os\nstart = getattr(os, 'fork')\n": "starts a process",
        "from concurrent.futures import ProcessPoolExecutor\n": "ProcessPoolExecutor",
        "import pty\npty.fork()\n": "pty",
        "import pickle\npickle.loads(b'')\n": "pickle",
        "import marshal\n": "marshal",
        "import torch\ntorch.hub.load('a/b', 'c')\n": "torch.hub",
    }
    for source, why in flagged.items():
        assert any(why in hit for hit in scan_source(source).suspicious()), source
    assert scan_source("import os\npath = os.path.join('a', 'fork')\n").suspicious() == []


def test_ways_to_find_any_object_by_a_built_string_are_flagged():
    """`pydoc.locate` and unpickling reach any object by a string the source builds — the
    watch's off switch too: F.linear and the built-in cells run under a located
    `DisableTorchFunction` kept full marks with nothing flagged (an outside audit's,
    2026-12-04).  A person now looks."""
    flagged = {
        "import pydoc\nlin = pydoc.locate('torch.nn.functional.' + 'lin' + 'ear')\n": "pydoc",
        "from pydoc import locate\n": "pydoc",
        "import _pickle\n_pickle.loads(b'')\n": "_pickle",
        "import copyreg\n": "copyreg",
        "import torch\nweights = torch.load('w.pt', weights_only=False)\n": "torch.load",
        "from operator import attrgetter\n": "attrgetter",
    }
    for source, why in flagged.items():
        assert any(why in hit for hit in scan_source(source).suspicious()), source


def test_the_scan_imports_nothing_the_source_names():
    """A torch module the source names is never imported in the judge to see what it is:
    `torch.utils.model_dump.__main__` exits at import (an outside audit's, 2026-12-04), others
    change global state.  What is not imported yet is simply not a built-in."""
    import sys

    source = "import torch\ndef _never_called():\n    return torch.utils.model_dump.__main__\n"
    assert scan_source(source).forbidden(list(LINEAR)) == []
    assert "torch.utils.model_dump" not in sys.modules and "torch.utils.model_dump.__main__" not in sys.modules


def test_a_main_guard_python_compiles_is_read_however_deep():
    deep = "if __name__ == " + "+".join(["1"] * 1500) + ":\n    nn.Linear(2, 3)\n"
    assert scan_source(HEAD + deep).forbidden(list(LINEAR)) == ["torch.nn.Linear"]  # not the `__main__` guard: it runs


def test_code_the_scan_cannot_follow_counts_every_name_and_is_flagged(monkeypatch):
    from autograder.judge import scan

    def too_deep(*args):
        raise RecursionError

    monkeypatch.setattr(scan, "_never_run", too_deep)
    found = scan.scan_source(HEAD + SELF_CHECKS["a decorated helper"] + "\n# another source\n")
    assert found.forbidden(list(LINEAR)) == ["torch.nn.Linear"] and any("nested too deeply" in hit for hit in found.suspicious())


def test_a_chain_of_self_checks_is_followed_to_its_end_and_a_flood_of_definitions_exempts_nothing():
    """The self-checks reached only from `__main__` are found by one pass over the mentions:
    a chain of 20,000 one-line definitions kept the judge busy for minutes a scan (an outside
    audit's, 2026-12-04).  Past `MOST_STATEMENTS_SORTED` statements, none is told apart."""
    from autograder.judge.scan import MOST_STATEMENTS_SORTED

    def chain(n):
        links = "".join(f"def _c{i}():\n    return _c{i - 1}()\n" for i in range(1, n))
        return HEAD + "def _c0():\n    return nn.Linear(2, 3)\n" + links + f"if __name__ == '__main__':\n    _c{n - 1}()\n"

    assert scan_source(chain(MOST_STATEMENTS_SORTED // 2)).forbidden(list(LINEAR)) == []
    flood = scan_source(chain(MOST_STATEMENTS_SORTED + 10))
    assert flood.forbidden(list(LINEAR)) == ["torch.nn.Linear"] and any("too many" in hit for hit in flood.suspicious())
