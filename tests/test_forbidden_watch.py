"""Tests of the run-time forbidden-call watch (`autograder/worker/forbidden`).

Student modules are tiny files written to a temporary folder and imported with
importlib, so their code objects carry the student's file name.  This test file plays
the grader: its functions are probe recipes (transparent to attribution) and its
`Trusted*` blocks are substituted into student modules through `trust()`, as
`run_probe(patch=...)` would.
"""

from __future__ import annotations

import importlib
import importlib.util
import itertools
import sys
import textwrap
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import torch
import torch.nn as nn
import torch.nn.functional as F

from autograder.worker.forbidden import (
    FORBIDDEN_TARGETS,
    ForbiddenCall,
    runs_the_students_parts,
    student_import,
    target_for,
    trust,
    trusted,
    watching,
)
from autograder.worker.forbidden.watch import _IMPORTED_BY_STUDENT

# -- the hidden tests' forbid lists ------------------------------------------------------------

MLP = ("torch.nn.Linear", "torch.nn.functional.linear")
SDPA = ("torch.nn.functional.scaled_dot_product_attention",)
MHA = ("torch.nn.MultiheadAttention", "torch.nn.functional.multi_head_attention_forward")
LAYER = ("torch.nn.TransformerEncoderLayer", "torch.nn.TransformerEncoder")
BACKDOORS = ("torch._VF", "torch.nn.modules.rnn")
SEQUENCE = ("torch.nn.RNN", "torch.nn.LSTM", "torch.nn.GRU", "torch.nn.RNNBase", *BACKDOORS)
CELL_BUILTINS = {
    "RNNCell": ("torch.nn.RNNCell", "torch.rnn_tanh_cell", "torch.rnn_relu_cell"),
    "LSTMCell": ("torch.nn.LSTMCell", "torch.lstm_cell"),
    "GRUCell": ("torch.nn.GRUCell", "torch.gru_cell"),
}
FORBID_CELL = {name: (*names, "torch.nn.RNNCellBase", *SEQUENCE) for name, names in CELL_BUILTINS.items()}
GNN = ("torch_geometric", "torch_scatter", "torch_sparse")
ALL_LISTS = (MLP, SDPA, MHA, LAYER, SEQUENCE, *FORBID_CELL.values(), GNN)


# -- the grader's trusted blocks (as in autograder/worker/probes) -------------------------------

def trusted_attention(q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None) -> tuple:
    return F.scaled_dot_product_attention(q, k, v, attn_mask=mask), None


class TrustedSelfAttention(nn.MultiheadAttention):
    def __init__(self, d_model: int, num_heads: int, bias: bool = True) -> None:
        super().__init__(d_model, num_heads, bias=bias, batch_first=True)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:  # type: ignore[override]
        return super().forward(x, x, x, attn_mask=None if mask is None else ~mask, need_weights=False)[0]


class TrustedEncoderLayer(nn.TransformerEncoderLayer):
    def __init__(self, d_model: int, num_heads: int, dim_feedforward: int) -> None:
        super().__init__(d_model, num_heads, dim_feedforward, dropout=0.0, batch_first=True)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:  # type: ignore[override]
        return super().forward(x)


class TrustedLSTMCell(nn.LSTMCell):
    def forward(self, x: torch.Tensor, state: Any = None) -> Any:  # type: ignore[override]
        return super().forward(x, state)


class TrustedRNN(nn.Module):
    """Trusted cells applied through time (the cells are built inside: trusted too)."""

    def __init__(self, input_size: int, hidden_size: int) -> None:
        super().__init__()
        self.cell = TrustedLSTMCell(input_size, hidden_size)

    def forward(self, x: torch.Tensor, state: Any = None) -> Any:
        outputs = []
        for t in range(x.shape[1]):
            state = self.cell(x[:, t], state)
            outputs.append(state[0])
        return torch.stack(outputs, dim=1), state


@runs_the_students_parts
class UnrolledCell(nn.Module):
    """A given cell (the student's) applied through time by the grader's code (no boundary)."""

    def __init__(self, cell: nn.Module) -> None:
        super().__init__()
        self.cell = cell

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        state, hs = None, []
        for t in range(x.shape[1]):
            state = self.cell(x[:, t], state)
            hs.append(state[0] if isinstance(state, tuple) else state)
        return torch.stack(hs, dim=1)


def trusted_scatter(src: torch.Tensor, index: torch.Tensor, num_nodes: int) -> torch.Tensor:
    return src.new_zeros(num_nodes, *src.shape[1:]).index_add_(0, index, src)


# -- loading students and running probes ------------------------------------------------------

_names = itertools.count()


@pytest.fixture
def student(tmp_path: Path) -> Iterator[Callable[[str], Any]]:
    """`student(source)` writes the source to a file and imports it as a fresh module."""
    loaded: list[str] = []

    def load(source: str) -> Any:
        name = f"nnzoo_student_{next(_names)}"
        path = tmp_path / f"{name}.py"
        path.write_text(textwrap.dedent(source))
        spec = importlib.util.spec_from_file_location(name, path)
        module = importlib.util.module_from_spec(spec)
        sys.modules[name] = module
        loaded.append(name)
        spec.loader.exec_module(module)
        return module

    yield load
    for name in loaded:
        sys.modules.pop(name, None)


def run(module: Any, names: tuple[str, ...], fn: Callable[[Any], Any], patch: dict[str, Any] | None = None) -> Any:
    """One probe: watch `names`, substitute trusted objects, run the recipe `fn(module)`."""
    patch = patch or {}
    with watching(names, module.__file__, module):
        saved = {k: getattr(module, k, None) for k in patch}
        for k, v in patch.items():
            setattr(module, k, trust(v))
        try:
            return fn(module)
        finally:
            for k, v in saved.items():
                setattr(module, k, v)


def line_of(module: Any, marker: str) -> int:
    lines = Path(module.__file__).read_text().splitlines()
    return next(i for i, line in enumerate(lines, 1) if f"# {marker}" in line)


def caught(module: Any, names: tuple[str, ...], fn: Callable[[Any], Any], spec: str, marker: str | None,
           patch: dict[str, Any] | None = None) -> ForbiddenCall:
    """Run the probe; it must raise ForbiddenCall for `spec` at the line tagged `# marker`
    (or with no line, when `marker` is None)."""
    with pytest.raises(ForbiddenCall) as info:
        run(module, names, fn, patch)
    exc = info.value
    assert exc.spec == spec, str(exc)
    if marker is None:
        assert exc.lineno is None, str(exc)
        assert "an object your module provides" in str(exc)
    else:
        assert exc.filename == module.__file__
        assert exc.lineno == line_of(module, marker), str(exc)
        assert f"line {exc.lineno}" in str(exc)
    return exc


def randn(*shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=torch.Generator().manual_seed(0))


def call_model(*args: Any, build: str = "Linear", build_args: tuple = (5, 4), backward: bool = True) -> Callable:
    def recipe(module: Any) -> Any:
        model = getattr(module, build)(*build_args)
        out = model(*args)
        if backward and isinstance(out, torch.Tensor) and out.requires_grad:
            out.sum().backward()
        return out
    return recipe


def call_function(name: str, *args: Any) -> Callable:
    return lambda module: getattr(module, name)(*args)


HEADER = """
import functools, importlib, pkgutil, threading
import torch
import torch.nn as nn
import torch.nn.functional as F
"""

LINEAR_PARAMS = """
class Linear(nn.Module):
    def __init__(self, i, o):
        super().__init__()
        self.weight = nn.Parameter(torch.randn(o, i) * 0.1)
        self.bias = nn.Parameter(torch.zeros(o))
"""


# -- escapes: mlp ----------------------------------------------------------------------------

@pytest.mark.parametrize("expr", [
    'torch._C._nn.linear(x, self.weight, self.bias)',
    'getattr(F, "lin" + "ear")(x, self.weight, self.bias)',
    'importlib.import_module("torch.nn.functional").linear(x, self.weight, self.bias)',
    'pkgutil.resolve_name("torch.nn.functional:linear")(x, self.weight, self.bias)',
    'torch.ops.aten.linear(x, self.weight, self.bias)',
    'torch.ops.aten.linear.default._op(x, self.weight, self.bias)',
    'torch.vmap(lambda r: F.linear(r, self.weight, self.bias))(x)',
    # an operator called by its handle runs below the function mode
    'torch._C._dispatch_call_boxed(torch._C._dispatch_find_schema_or_throw("aten::linear", ""), x, self.weight, self.bias)',
    'torch.ops.aten.linear.default._handle.redispatch_boxed(torch._C.DispatchKeySet(torch._C.DispatchKey.CompositeImplicitAutograd), '
    'x, self.weight, self.bias)',
])
def test_linear_escapes_are_caught(student, expr):
    m = student(HEADER + LINEAR_PARAMS + f"""
    def forward(self, x):
        return {expr}  # HERE
""")
    caught(m, MLP, call_model(randn(3, 5)), "torch.nn.functional.linear", "HERE")


def test_borrowed_nn_linear_through_functional_call_is_caught(student):
    m = student(HEADER + LINEAR_PARAMS + """
    def forward(self, x):
        return torch.func.functional_call(HELPER, {"weight": self.weight, "bias": self.bias}, (x,))  # HERE
HELPER = getattr(nn, "Lin" + "ear")(5, 4)
""")
    caught(m, MLP, call_model(randn(3, 5)), "torch.nn.Linear", "HERE")


def test_nn_linear_built_under_another_name_is_caught_where_built(student):
    m = student(HEADER + """
class Linear(nn.Module):
    def __init__(self, i, o):
        super().__init__()
        self.inner = getattr(torch.nn.modules.linear, "Linear")(i, o)  # HERE
    def forward(self, x):
        return self.inner(x)
""")
    caught(m, MLP, call_model(randn(3, 5)), "torch.nn.Linear", "HERE")


def test_student_subclass_of_nn_linear_is_caught(student):
    m = student(HEADER + """
class Linear(getattr(nn, "Linear")):
    def __init__(self, i, o):
        super().__init__(i, o)  # HERE
""")
    caught(m, MLP, call_model(randn(3, 5)), "torch.nn.Linear", "HERE")


def test_alias_built_and_called_by_the_grader_is_caught_without_a_line(student):
    m = student(HEADER + 'Linear = functools.partial(getattr(nn, "Lin" + "ear"))\n')
    caught(m, MLP, call_model(randn(3, 5)), "torch.nn.Linear", None)


def test_instance_built_before_the_watch_is_caught_when_called(student):
    m = student(HEADER + LINEAR_PARAMS + """
        self._impl = IMPL
    def forward(self, x):
        return self._impl.forward(x)  # HERE
IMPL = getattr(nn, "Linear")(5, 4)
""")
    caught(m, MLP, call_model(randn(3, 5)), "torch.nn.Linear", "HERE")


def test_a_caught_and_swallowed_violation_still_fails(student):
    m = student(HEADER + LINEAR_PARAMS + """
    def forward(self, x):
        try:
            return torch._C._nn.linear(x, self.weight, self.bias)  # HERE
        except Exception:
            return x @ self.weight.T + self.bias
""")
    caught(m, MLP, call_model(randn(3, 5)), "torch.nn.functional.linear", "HERE")


def test_a_thread_carries_the_watch(student):
    m = student(HEADER + LINEAR_PARAMS + """
    def forward(self, x):
        out = {}
        def work():
            out["y"] = F.linear(x, self.weight, self.bias)  # HERE
        t = threading.Thread(target=work)
        t.start(); t.join()
        return out.get("y", x @ self.weight.T + self.bias)
""")
    caught(m, MLP, call_model(randn(3, 5)), "torch.nn.functional.linear", "HERE")


# -- escapes: attention ----------------------------------------------------------------------

SDPA_HEAD = HEADER + "def scaled_dot_product_attention(q, k, v, mask=None):\n"


@pytest.mark.parametrize("body", [
    "return torch._C._nn.scaled_dot_product_attention(q, k, v), None  # HERE",
    'return getattr(F, "scaled_dot_product_" + "attention")(q, k, v), None  # HERE',
    "return torch.ops.aten._scaled_dot_product_flash_attention_for_cpu(q, k, v)[0], None  # HERE",
    "return torch._scaled_dot_product_attention_math(q, k, v)[0], None  # HERE",
    "return torch.ops.aten._scaled_dot_product_attention_math.default(q, k, v)[0], None  # HERE",
    # a composite kernel called by its handle: below the function mode, and the dispatch mode sees only its parts
    "return torch._C._dispatch_call_boxed(torch._C._dispatch_find_schema_or_throw('aten::_scaled_dot_product_attention_math', ''), "
    "q, k, v), None  # HERE",
])
def test_sdpa_escapes_are_caught(student, body):
    m = student(SDPA_HEAD + "    " + body + "\n")
    q = randn(2, 2, 5, 4)
    caught(m, SDPA, call_function("scaled_dot_product_attention", q, q, q), SDPA[0], "HERE")


def test_sdpa_inside_torchscript_is_caught(student):
    """The scripted graph runs its ops through torch.ops: the fused kernel is seen by name."""
    m = student(HEADER + """
@torch.jit.script
def _fast(q, k, v):
    return getattr(F, "scaled_dot_product_attention")(q, k, v)
def scaled_dot_product_attention(q, k, v, mask=None):
    return _fast(q, k, v), None  # HERE
""".replace('getattr(F, "scaled_dot_product_attention")', "F.scaled_dot_product_attention"))
    q = randn(2, 2, 5, 4)
    caught(m, SDPA, call_function("scaled_dot_product_attention", q, q, q), SDPA[0], "HERE")


def test_sdpa_inside_multi_head_attention_forward_is_caught_by_the_dispatch_mode(student):
    """F.multi_head_attention_forward is allowed in the sdpa task, but the fused sdpa
    kernel it runs inside (need_weights=False, float32) is distinctive at the aten level."""
    m = student(SDPA_HEAD + """
    b, h, n, d = q.shape
    eye = torch.eye(h * d)
    x = lambda t: t.transpose(1, 2).reshape(b, n, h * d).transpose(0, 1)
    out, _ = F.multi_head_attention_forward(x(q), x(k), x(v), h * d, h, None, None, None, None, False, 0.0,  # HERE
                                            eye, None, use_separate_proj_weight=True, q_proj_weight=eye,
                                            k_proj_weight=eye, v_proj_weight=eye, need_weights=False)
    return out.transpose(0, 1).reshape(b, n, h, d).transpose(1, 2), None
""")
    q = randn(2, 2, 5, 4)
    exc = caught(m, SDPA, call_function("scaled_dot_product_attention", q, q, q), SDPA[0], "HERE")
    assert "aten op" in exc.via


def test_flex_attention_is_caught(student):
    m = student(SDPA_HEAD + """
    from torch.nn.attention.flex_attention import flex_attention
    return flex_attention(q, k, v), None  # HERE
""")
    q = randn(2, 2, 8, 4)
    caught(m, SDPA, call_function("scaled_dot_product_attention", q, q, q), SDPA[0], "HERE")


MHSA_HEAD = HEADER + """
class MultiHeadSelfAttention(nn.Module):
    def __init__(self, d, h, bias=True):
        super().__init__()
"""


@pytest.mark.parametrize("init, forward, spec", [
    ("self.attn = torch.nn.modules.activation.MultiheadAttention(d, h, batch_first=True)  # HERE",
     "return self.attn(x, x, x)[0]", "torch.nn.MultiheadAttention"),
    ("self.attn = getattr(importlib.import_module('torch.nn'), 'Multihead' + 'Attention')(d, h)  # HERE",
     "return self.attn(x, x, x)[0]", "torch.nn.MultiheadAttention"),
    ("self.w = nn.Parameter(torch.randn(3 * d, d) * 0.1); self.o = nn.Linear(d, d); self.h = h",
     ("return getattr(F, 'multi_head_attention_forward')(x.transpose(0, 1), x.transpose(0, 1), x.transpose(0, 1), "
      "x.shape[-1], self.h, self.w, None, None, None, False, 0.0, self.o.weight, self.o.bias)[0].transpose(0, 1)  # HERE"),
     "torch.nn.functional.multi_head_attention_forward"),
])
def test_mha_escapes_are_caught(student, init, forward, spec):
    m = student(MHSA_HEAD + f"        {init}\n    def forward(self, x, mask=None):\n        {forward}\n")
    caught(m, MHA, call_model(randn(2, 5, 8), build="MultiHeadSelfAttention", build_args=(8, 2)), spec, "HERE",
           patch={"scaled_dot_product_attention": trusted_attention})


def test_student_subclass_of_multihead_attention_is_caught(student):
    """No __init__ of its own, built by the grader: reported at the class statement."""
    m = student(HEADER + """
class MultiHeadSelfAttention(torch.nn.modules.activation.MultiheadAttention):  # HERE
    def forward(self, x, mask=None):
        return super().forward(x, x, x, need_weights=False)[0]
""")
    caught(m, MHA, call_model(randn(5, 8), build="MultiHeadSelfAttention", build_args=(8, 2)),
           "torch.nn.MultiheadAttention", "HERE")


def test_native_mha_kernel_is_caught(student):
    m = student(MHSA_HEAD + """
        self.w = nn.Parameter(torch.randn(3 * d, d) * 0.1); self.b = nn.Parameter(torch.zeros(3 * d))
        self.ow = nn.Parameter(torch.randn(d, d) * 0.1); self.ob = nn.Parameter(torch.zeros(d)); self.h = h
    def forward(self, x, mask=None):
        return torch._native_multi_head_attention(x, x, x, x.shape[-1], self.h, self.w, self.b, self.ow, self.ob)[0]  # HERE
""")
    with torch.no_grad():
        caught(m, MHA, call_model(randn(2, 5, 8), build="MultiHeadSelfAttention", build_args=(8, 2), backward=False),
               "torch.nn.MultiheadAttention", "HERE")


LAYER_HEAD = HEADER + """
class TransformerEncoderLayer(nn.Module):
    def __init__(self, d, h, ff):
        super().__init__()
"""


@pytest.mark.parametrize("train", [True, False])
def test_encoder_layer_from_the_transformer_module_is_caught(student, train):
    m = student(LAYER_HEAD + """
        cls = getattr(importlib.import_module("torch.nn.modules.transformer"), "TransformerEncoderLayer")
        self.inner = cls(d, h, ff, batch_first=True)  # HERE
    def forward(self, x, mask=None):
        return self.inner(x)
""")

    def recipe(module: Any) -> Any:
        layer = module.TransformerEncoderLayer(8, 2, 16).train(train)
        with torch.set_grad_enabled(train):
            return layer(randn(2, 5, 8))
    caught(m, LAYER, recipe, "torch.nn.TransformerEncoderLayer", "HERE", patch={"MultiHeadSelfAttention": TrustedSelfAttention})


def test_encoder_layer_fast_path_kernel_is_caught(student):
    m = student(LAYER_HEAD + """
        self.ref = None
    def forward(self, x, mask=None):
        r = REF
        return torch._transformer_encoder_layer_fwd(  # HERE
            x, r.self_attn.embed_dim, r.self_attn.num_heads, r.self_attn.in_proj_weight, r.self_attn.in_proj_bias,
            r.self_attn.out_proj.weight, r.self_attn.out_proj.bias, False, False, r.norm1.eps,
            r.norm1.weight, r.norm1.bias, r.norm2.weight, r.norm2.bias, r.linear1.weight, r.linear1.bias,
            r.linear2.weight, r.linear2.bias, None)
REF = nn.TransformerEncoderLayer(8, 2, 16, batch_first=True)
""")
    with torch.no_grad():
        caught(m, LAYER, call_model(randn(2, 5, 8), build="TransformerEncoderLayer", build_args=(8, 2, 16)),
               "torch.nn.TransformerEncoderLayer", "HERE")


def test_encoder_inside_nn_transformer_is_caught(student):
    m = student(HEADER + """
class TokenClassifier(nn.Module):
    def __init__(self):
        super().__init__()
        self.t = getattr(nn, "Transformer")(8, 2, 1, 1, 16, batch_first=True)  # HERE
""")
    caught(m, LAYER, lambda mod: mod.TokenClassifier(), "torch.nn.TransformerEncoderLayer", "HERE")


# -- escapes: rnn ----------------------------------------------------------------------------

CELL_HEAD = HEADER + """
class {name}(nn.Module):
    def __init__(self, i, h):
        super().__init__()
        self.w_ih = nn.Parameter(torch.randn(G * h, i) * 0.1); self.w_hh = nn.Parameter(torch.randn(G * h, h) * 0.1)
        self.b_ih = nn.Parameter(torch.zeros(G * h)); self.b_hh = nn.Parameter(torch.zeros(G * h)); self.h = h
    def forward(self, x, state=None):
        if state is None:
            z = x.new_zeros(x.shape[0], self.h)
            state = (z, z) if G == 4 else z
"""


@pytest.mark.parametrize("name, gates, call, spec", [
    ("LSTMCell", 4, "torch._C._VariableFunctions.lstm_cell(x, state, self.w_ih, self.w_hh, self.b_ih, self.b_hh)", "torch.lstm_cell"),
    ("LSTMCell", 4, "torch._VF.lstm_cell(x, state, self.w_ih, self.w_hh, self.b_ih, self.b_hh)", "torch.lstm_cell"),
    ("LSTMCell", 4, "torch.ops.aten.lstm_cell(x, list(state), self.w_ih, self.w_hh, self.b_ih, self.b_hh)", "torch.lstm_cell"),
    ("GRUCell", 3, "getattr(torch, 'gru' + '_cell')(x, state, self.w_ih, self.w_hh, self.b_ih, self.b_hh)", "torch.gru_cell"),
    ("RNNCell", 1, "torch._C._VariableFunctions.rnn_tanh_cell(x, state, self.w_ih, self.w_hh, self.b_ih, self.b_hh)", "torch.rnn_tanh_cell"),
    ("RNNCell", 1, "torch._VF.rnn_relu_cell(x, state, self.w_ih, self.w_hh, self.b_ih, self.b_hh)", "torch.rnn_relu_cell"),
    ("GRUCell", 3, "torch._C._dispatch_call_boxed(torch._C._dispatch_find_schema_or_throw('aten::gru_cell', ''), x, state, self.w_ih, "
     "self.w_hh, self.b_ih, self.b_hh)", "torch.gru_cell"),
])
def test_cell_kernels_are_caught(student, name, gates, call, spec):
    m = student(CELL_HEAD.format(name=name).replace("G ", f"{gates} ").replace("G)", f"{gates})")
                + f"        return {call}  # HERE\n")
    caught(m, FORBID_CELL[name], call_model(randn(3, 5), build=name, build_args=(5, 4)), spec, "HERE")


@pytest.mark.parametrize("expr, spec", [
    ("getattr(torch.nn.modules.rnn, 'LSTM' + 'Cell')(i, h)", "torch.nn.LSTMCell"),
    ("importlib.import_module('torch.ao.nn.quantizable').LSTMCell(i, h)", "torch.nn.LSTMCell"),
])
def test_cell_classes_are_caught(student, expr, spec):
    m = student(HEADER + f"""
class LSTMCell(nn.Module):
    def __init__(self, i, h):
        super().__init__()
        self.inner = {expr}  # HERE
    def forward(self, x, state=None):
        return self.inner(x, state)
""")
    caught(m, FORBID_CELL["LSTMCell"], call_model(randn(3, 5), build="LSTMCell", build_args=(5, 4)), spec, "HERE")


@pytest.mark.parametrize("expr, spec", [
    ("torch.lstm(x, (z, z), list(self.params), True, 1, 0.0, self.training, False, True)[0]", "torch._VF"),
    ("torch._VF.gru(x, z, list(self.params[:4]), True, 1, 0.0, self.training, False, True)[0]", "torch._VF"),
])
def test_sequence_kernels_are_caught(student, expr, spec):
    m = student(HEADER + f"""
class RNN(nn.Module):
    def __init__(self, i, h):
        super().__init__()
        self.params = nn.ParameterList([nn.Parameter(torch.randn(4 * h, i) * .1), nn.Parameter(torch.randn(4 * h, h) * .1),
                                        nn.Parameter(torch.zeros(4 * h)), nn.Parameter(torch.zeros(4 * h))])
        self.h = h
    def forward(self, x, state=None):
        z = x.new_zeros(1, x.shape[0], self.h)
        if "gru" in {expr!r}:
            self.params = nn.ParameterList([nn.Parameter(p[: 3 * self.h].detach()) for p in self.params])
        return {expr}  # HERE
""")
    caught(m, SEQUENCE, call_model(randn(2, 6, 5), build="RNN", build_args=(5, 4)), spec, "HERE",
           patch={"LSTMCell": TrustedLSTMCell})


def test_quantizable_lstm_is_caught(student):
    m = student(HEADER + """
class RNN(nn.Module):
    def __init__(self, i, h):
        super().__init__()
        self.lstm = importlib.import_module("torch.ao.nn.quantizable").LSTM(i, h, batch_first=True)  # HERE
    def forward(self, x, state=None):
        return self.lstm(x)
""")
    caught(m, SEQUENCE, call_model(randn(2, 6, 5), build="RNN", build_args=(5, 4)), "torch.nn.LSTM", "HERE")


def test_reloading_a_torch_module_is_caught(student):
    m = student(HEADER + """
def reload():
    return importlib.reload(torch.nn.modules.rnn)  # HERE
""")
    caught(m, SEQUENCE, call_function("reload"), "importlib.reload", "HERE")


def test_cheating_student_cell_inside_the_graders_unrolled_cell_is_caught(student):
    m = student(HEADER + """
class LSTMCell(nn.Module):
    def __init__(self, i, h):
        super().__init__()
        self.inner = getattr(nn, "LSTM" + "Cell")(i, h)  # HERE
    def forward(self, x, state=None):
        return self.inner(x, state)
""")

    def recipe(module: Any) -> Any:
        return trust(UnrolledCell)(module.LSTMCell(5, 4))(randn(2, 6, 5))
    caught(m, FORBID_CELL["LSTMCell"], recipe, "torch.nn.LSTMCell", "HERE")


def test_a_plain_alias_built_by_the_graders_unrolled_cell_recipe_is_caught(student):
    m = student(HEADER + "LSTMCell = getattr(nn, 'LSTM' + 'Cell')\n")

    def recipe(module: Any) -> Any:
        return trust(UnrolledCell)(module.LSTMCell(5, 4))(randn(2, 6, 5))
    caught(m, FORBID_CELL["LSTMCell"], recipe, "torch.nn.LSTMCell", None)


# -- escapes: packages -----------------------------------------------------------------------

@pytest.fixture
def no_pyg() -> Iterator[None]:
    """torch_geometric not imported yet (restored afterwards)."""
    saved = {n: m for n, m in sys.modules.items() if n.split(".")[0] in GNN}
    for n in saved:
        del sys.modules[n]
    yield
    for n in [n for n in sys.modules if n.split(".")[0] in GNN]:
        del sys.modules[n]
    sys.modules.update(saved)


@pytest.fixture(scope="module")
def pyg() -> Any:
    return pytest.importorskip("torch_geometric")


GCN_HEAD = HEADER + """
def propagate(x, edge_index):
"""
EDGES = torch.tensor([[0, 1, 2, 3], [1, 2, 3, 0]])


def test_a_package_the_students_module_loads_when_imported_is_theirs(student, tmp_path, monkeypatch):
    """PyG's `scatter`, imported at import under a name built at run time, compiled by
    `torch.jit.script` and kept in a list, ran where no frame of the package shows (27/27
    against 20/27, an audit, 2026-12-05).  What the student's import loads is theirs: every
    watch that forbids it charges them, at the line that imports it.  (A stand-in
    `torch_sparse`: PyG cannot be imported twice in one process.)"""
    (tmp_path / "torch_sparse").mkdir()
    (tmp_path / "torch_sparse" / "__init__.py").write_text("def spmm(x):\n    return x\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    try:
        with student_import():
            m = student(GCN_HEAD + """
    return KEPT[0](x)
KEPT = [importlib.import_module("torch_" + "sparse").spmm]  # HERE imports torch_sparse
""")
        caught(m, GNN, lambda module: module.propagate(randn(4, 3), EDGES), "torch_sparse", "HERE")
        assert run(m, MLP, lambda module: module.propagate(randn(4, 3), EDGES)).shape == (4, 3)  # not forbidden there
    finally:
        _IMPORTED_BY_STUDENT.clear()
        sys.modules.pop("torch_sparse", None)


@pytest.mark.parametrize("body", [
    'return importlib.import_module("torch_geometric.utils").scatter(x[edge_index[0]], edge_index[1], 0, 4)  # HERE',
    'return __import__("torch_geometric").utils.scatter(x[edge_index[0]], edge_index[1], 0, 4)  # HERE',
    'return pkgutil.resolve_name("torch_geometric.utils:scatter")(x[edge_index[0]], edge_index[1], 0, 4)  # HERE',
])
def test_package_import_is_refused(student, no_pyg, body):
    m = student(GCN_HEAD + "    " + body + "\n")
    caught(m, GNN, call_function("propagate", randn(4, 3), EDGES), "torch_geometric", "HERE")


@pytest.mark.parametrize("body", [
    'return importlib.import_module("torch_geometric.utils").scatter(x[edge_index[0]], edge_index[1], 0, 4)  # HERE',
    'return pkgutil.resolve_name("torch_geometric.utils:degree")(edge_index[1], 4)  # HERE',
    'return sys_modules()["torch_geometric.nn"].GCNConv(3, 2)(x, edge_index)  # HERE',
])
def test_package_code_is_caught_when_already_imported(student, pyg, body):
    m = student(GCN_HEAD.replace("def propagate", "def sys_modules():\n    import sys\n    return sys.modules\ndef propagate")
                + "    " + body + "\n")
    caught(m, GNN, call_function("propagate", randn(4, 3), EDGES), "torch_geometric", "HERE")


def test_package_imported_at_module_level_is_caught_when_the_watch_starts(student, pyg):
    m = student(HEADER + """
scatter = getattr(__import__("torch_geometric.utils").utils, "scatter")  # HERE
def propagate(x, edge_index):
    return x
""")
    exc = caught(m, GNN, call_function("propagate", randn(4, 3), EDGES), "torch_geometric", "HERE")
    assert "`scatter` comes from torch_geometric" in str(exc)


def test_student_subclass_of_a_package_class_is_caught(student, pyg):
    m = student(HEADER + """
MP = importlib.import_module("torch_geometric.nn").MessagePassing
def layer():
    class GCNLayer(MP):
        def forward(self, x, edge_index):
            return self.propagate(edge_index, x=x)  # HERE
    return GCNLayer(aggr="add")
def propagate(x, edge_index):
    return layer()(x, edge_index)
""".replace('MP = importlib.import_module("torch_geometric.nn").MessagePassing\n', "")
                .replace("def layer():\n", 'def layer():\n    MP = importlib.import_module("torch_geometric.nn").MessagePassing\n'))
    caught(m, GNN, call_function("propagate", randn(4, 3), EDGES), "torch_geometric", "HERE")


# -- trust: boundaries, revocation, the bottom rule ---------------------------------------------

def test_a_trusted_object_stashed_in_one_probe_is_plain_code_in_the_next(student):
    m = student(HEADER + """
STASH = []
class MultiHeadSelfAttention(nn.Module):
    def __init__(self, d, h):
        super().__init__()
        STASH.append(scaled_dot_product_attention)
        self.h = h
    def forward(self, x, mask=None):
        b, n, d = x.shape
        q = x.view(b, n, self.h, d // self.h).transpose(1, 2)
        return scaled_dot_product_attention(q, q, q)[0].transpose(1, 2).reshape(b, n, d)
def scaled_dot_product_attention(q, k, v, mask=None):
    return STASH[-1](q, k, v, mask)  # HERE
""")
    run(m, MHA, call_model(randn(2, 5, 8), build="MultiHeadSelfAttention", build_args=(8, 2)),
        patch={"scaled_dot_product_attention": trusted_attention})
    q = randn(2, 2, 5, 4)
    caught(m, SDPA, call_function("scaled_dot_product_attention", q, q, q), SDPA[0], "HERE")


def test_grader_code_needs_trusted_for_a_forbidden_built_in(student):
    m = student(HEADER + "def relu(x):\n    return x.clamp_min(0)\n")
    x, w = randn(3, 5), randn(4, 5)

    def bare(module: Any) -> Any:
        return F.linear(module.relu(x), w)

    def wrapped(module: Any) -> Any:
        y = module.relu(x)
        with trusted():
            return F.linear(y, w)

    caught(m, MLP, bare, "torch.nn.functional.linear", None)
    assert run(m, MLP, wrapped).shape == (3, 4)


def test_trusted_pauses_only_the_graders_frame(student):
    """Student code called from inside `with trusted():` is still watched."""
    m = student(HEADER + "def relu(x):\n    return F.linear(x, torch.eye(x.shape[-1])).clamp_min(0)  # HERE\n")

    def recipe(module: Any) -> Any:
        with trusted():
            return module.relu(randn(3, 5))
    caught(m, MLP, recipe, "torch.nn.functional.linear", "HERE")


def test_targets_resolve_for_every_name_of_the_hidden_tests():
    for names in ALL_LISTS:
        for name in names:
            t = target_for(name)
            assert t.functions or t.classes or t.packages or t.ops, name
    assert set(FORBIDDEN_TARGETS) >= {n for names in ALL_LISTS for n in names}
    generic = target_for("torch.nn.modules.transformer")
    assert "torch.nn.modules.transformer.TransformerEncoderLayer" in generic.classes
    assert target_for("torch.nn.modules.activation.MultiheadAttention").classes


def test_watch_restores_torch_classes_and_import_hooks():
    before = (nn.Linear.__dict__["forward"], nn.LSTMCell.__dict__["forward"], "__init__" in nn.LSTMCell.__dict__,
              list(sys.meta_path))
    with watching(MLP + FORBID_CELL["LSTMCell"], "/nonexistent/student.py"):
        assert nn.Linear.__dict__["forward"] is not before[0]
    after = (nn.Linear.__dict__["forward"], nn.LSTMCell.__dict__["forward"], "__init__" in nn.LSTMCell.__dict__,
             list(sys.meta_path))
    assert after == before


def test_forbidden_call_pickles():
    import pickle
    exc = ForbiddenCall("torch.nn.Linear", "builds Linear", "/x/mlp.py", 7)
    again = pickle.loads(pickle.dumps(exc))
    assert (again.spec, again.lineno, str(again)) == (exc.spec, exc.lineno, str(exc))


# -- legitimate implementations: not flagged ----------------------------------------------------

@pytest.mark.parametrize("expr", [
    "x @ self.weight.T + self.bias",
    "torch.addmm(self.bias, x.reshape(-1, x.shape[-1]), self.weight.t()).reshape(*x.shape[:-1], -1)",
    "torch.einsum('...i,oi->...o', x, self.weight) + self.bias",
    "torch.matmul(x, self.weight.transpose(0, 1)).add(self.bias)",
])
def test_hand_written_linear_is_not_flagged(student, expr):
    m = student(HEADER + LINEAR_PARAMS + f"    def forward(self, x):\n        return {expr}\n")
    for x in (randn(5), randn(3, 5), randn(2, 3, 5)):
        out = run(m, MLP, call_model(x))
        assert out.shape == (*x.shape[:-1], 4)


def test_mlp_with_the_graders_nn_linear_is_not_flagged(student):
    """The student's MLP calls a substituted nn.Linear: its F.linear has the student's
    forward on the stack, but the trusted class's forward is nearer."""
    m = student(HEADER + LINEAR_PARAMS + """
    def forward(self, x):
        return x @ self.weight.T + self.bias
def relu(x):
    return x.clamp_min(0)
class MLP(nn.Module):
    def __init__(self, i, hidden, o):
        super().__init__()
        sizes = [i, *hidden, o]
        self.layers = nn.ModuleList([Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:])])
    def forward(self, x):
        for layer in self.layers[:-1]:
            x = relu(layer(x))
        return self.layers[-1](x)
""")
    out = run(m, MLP, call_model(randn(4, 3), build="MLP", build_args=(3, [8, 8], 2)),
              patch={"Linear": nn.Linear, "relu": torch.relu})
    assert out.shape == (4, 2)
    assert nn.Linear.__dict__["forward"].__name__ == "forward"


def test_the_graders_nn_linear_without_trust_would_be_flagged(student):
    """The control of the test above: substituted as is, nn.Linear is the student's."""
    m = student(HEADER + "class MLP(nn.Module):\n    def __init__(self):\n        super().__init__()\n"
                "        self.layer = Linear(3, 2)  # HERE\n")

    def recipe(module: Any) -> Any:
        module.Linear = nn.Linear  # not through trust()
        return module.MLP()
    caught(m, MLP, recipe, "torch.nn.Linear", "HERE")


def test_a_class_the_student_derives_from_a_trusted_class_builds_as_the_students(student):
    """A trusted class's constructor is a boundary for itself only: a student's subclass of it
    (of `type(self.cell)`, of the name the grader points at it) was built inside that
    boundary, with whatever its hooks built there marked trusted (an audit, 2026-12-04)."""
    m = student(HEADER + """
def build(trusted_linear):
    return type("Derived", (trusted_linear,), {})(3, 2)  # HERE
""")
    caught(m, MLP, lambda module: module.build(trust(nn.Linear)), "torch.nn.Linear", "HERE")


class _Halves(nn.Module):
    """A grader's class doing arithmetic on its size (as nn.MultiheadAttention does `embed_dim // num_heads`)."""

    def __init__(self, d: int) -> None:
        super().__init__()
        self.half = d // 2


class _Holds(nn.Module):
    """A grader's class holding a forbidden built-in (trusted once built by `trust(_Holds)`)."""

    def __init__(self) -> None:
        super().__init__()
        self.inner = nn.Linear(3, 2)


class _Makes(nn.Module):
    """A grader's class that calls a factory it looks up (a registry's hook) while it is built."""

    factory: Callable[[], Any] = staticmethod(lambda: None)

    def __init__(self) -> None:
        super().__init__()
        self.made = _Makes.factory()


def test_a_trusted_object_takes_a_number_of_a_students_subclass_as_a_plain_number(student):
    """An `int` whose `__floordiv__` is a C-level callable building nn.Linear ran inside the
    trusted constructor, leaving no frame of the student's file: the module was marked
    trusted (attention's factories, an audit, 2026-12-05).  The constructor gets a plain int."""
    m = student(HEADER + """
class Size(int):
    __floordiv__ = functools.partial(next, zip(map(functools.partial(nn.Linear, 3), [2])))
""")
    halves = run(m, MLP, lambda module: trust(_Halves)(module.Size(4)))
    assert type(halves.half) is int and halves.half == 2


def test_a_trusted_object_refuses_an_object_of_the_students_that_is_not_a_plain_value(student):
    """A plain object whose `__rfloordiv__` is a C-level callable building a layer was passed
    as it is (as `num_heads`) and ran inside the trusted constructor; so did a module of the
    student's with the same dunder (audits, 2026-12-05).  A trusted object takes numbers,
    strings and tensors; anything else is a TypeError of the student's code."""
    m = student(HEADER + """
Heads = type("Heads", (), {"__rfloordiv__": functools.partial(next, zip(map(functools.partial(nn.Linear, 3), [2])))})
ModuleHeads = type("ModuleHeads", (nn.Module,), dict(vars(Heads)))
""")
    for value in ("Heads()", "ModuleHeads()", "[Heads()]", "{'d': 4}"):
        with pytest.raises(TypeError, match="takes numbers, strings and tensors"):
            run(m, MLP, lambda module: trust(_Halves)(eval(value, vars(module))))


@runs_the_students_parts
class _Applies(nn.Module):
    """A grader's class that applies a part it is given (as rnn's `UnrolledCell` does, through time)."""

    def __init__(self, part: nn.Module) -> None:
        super().__init__()
        self.part = part

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.part(x)


def test_a_graders_class_around_the_students_part_is_no_boundary(student):
    """A trusted wrapper ran a part of the student's whose `forward` is a `functools.partial`
    of a built-in (no frame of their file) inside its boundary: uncharged.  Such a class is
    not trusted now (`runs_the_students_parts`), and a trusted one takes no module."""
    m = student(HEADER + """
class Part(nn.Module):
    def __init__(self):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(3, 3))
        self.forward = functools.partial(F.linear, weight=self.weight)
""")
    caught(m, MLP, lambda module: trust(_Applies)(module.Part())(randn(2, 3)), "torch.nn.functional.linear", None)
    with pytest.raises(TypeError, match="takes numbers, strings and tensors"):
        run(m, MLP, lambda module: trust(type("Trusted", (_Applies,), {}))(module.Part()))


def test_a_forbidden_module_holding_a_copied_trust_mark_is_the_students(student):
    """The trust mark read off a trusted part and written onto a forbidden layer the student
    built at import (under a made-up attribute name, past the scan) trusted that layer: its
    forward ran as the grader's (an audit, 2026-12-05).  The watch keeps trusted instances by
    identity; a deep copy of a trusted part stays trusted."""
    m = student(HEADER + """
import copy
KEPT = nn.Linear(3, 2)
def use(part, x):
    name = "_nnzoo_" + "trusted_in_watch"
    setattr(KEPT, name, getattr(part, name))
    return KEPT(x)  # HERE
def clone(part, x):
    return copy.deepcopy(part)(x)
""")
    with_part = lambda fn: lambda module: fn(trust(_Holds)(), randn(1, 3))  # noqa: E731
    caught(m, MLP, with_part(lambda part, x: m.use(part.inner, x)), "torch.nn.Linear", "HERE")
    assert run(m, MLP, with_part(lambda part, x: m.clone(part.inner, x))).shape == (1, 2)


def test_a_module_built_inside_a_trusted_constructor_but_kept_elsewhere_is_the_students(student):
    """Only the modules a trusted object holds when its constructor ends are trusted: one a
    C-level callable of the student's built meanwhile (no frame of their file on the stack)
    and kept for later is called as theirs."""
    m = student(HEADER + """
KEPT = []
make = functools.partial(KEPT.extend, map(functools.partial(nn.Linear, 3), [2]))
def use(x):
    return KEPT[0](x)  # HERE
""")

    def recipe(module: Any) -> Any:
        _Makes.factory = module.make
        try:
            trust(_Makes)()
        finally:
            _Makes.factory = staticmethod(lambda: None)
        return module.use(randn(1, 3))
    caught(m, MLP, recipe, "torch.nn.Linear", "HERE")


def test_hand_written_attention_is_not_flagged(student):
    m = student(SDPA_HEAD + """
    scores = q @ k.transpose(-2, -1) / q.shape[-1] ** 0.5
    if mask is not None:
        scores = scores.masked_fill(~mask, float("-inf"))
    weights = torch.softmax(scores, dim=-1)
    return weights @ v, weights
""")
    q = randn(2, 2, 5, 4).requires_grad_()
    out, _ = run(m, SDPA + MHA + LAYER, call_function("scaled_dot_product_attention", q, q, q,
                                                      torch.ones(5, 5, dtype=torch.bool).tril()))
    torch.testing.assert_close(out, F.scaled_dot_product_attention(q, q, q, attn_mask=torch.ones(5, 5, dtype=torch.bool).tril()))


STUDENT_MHSA = """
class MultiHeadSelfAttention(nn.Module):
    def __init__(self, d, h, bias=True):
        super().__init__()
        self.h = h
        self.qkv = nn.Linear(d, 3 * d, bias=bias)
        self.out = nn.Linear(d, d, bias=bias)
    def forward(self, x, mask=None):
        b, n, d = x.shape
        q, k, v = self.qkv(x).view(b, n, 3, self.h, d // self.h).permute(2, 0, 3, 1, 4)
        o, _ = scaled_dot_product_attention(q, k, v, mask)
        return self.out(o.transpose(1, 2).reshape(b, n, d))
"""


def test_student_mha_on_the_graders_sdpa_is_not_flagged(student):
    m = student(HEADER + "def scaled_dot_product_attention(q, k, v, mask=None):\n    raise NotImplementedError\n"
                + STUDENT_MHSA)
    x = randn(2, 5, 8).requires_grad_()
    out = run(m, SDPA + MHA, call_model(x, build="MultiHeadSelfAttention", build_args=(8, 2)),
              patch={"scaled_dot_product_attention": trusted_attention})
    assert out.shape == (2, 5, 8) and x.grad is not None


STUDENT_LAYER = """
class TransformerEncoderLayer(nn.Module):
    def __init__(self, d, h, ff):
        super().__init__()
        self.self_attn = MultiHeadSelfAttention(d, h)
        self.linear1, self.linear2 = nn.Linear(d, ff), nn.Linear(ff, d)
        self.norm1, self.norm2 = nn.LayerNorm(d), nn.LayerNorm(d)
    def forward(self, x, mask=None):
        x = x + self.self_attn(self.norm1(x), mask)
        return x + self.linear2(torch.relu(self.linear1(self.norm2(x))))
class TokenClassifier(nn.Module):
    def __init__(self, vocab, classes, d, h, layers, ff):
        super().__init__()
        self.embedding = nn.Embedding(vocab, d)
        proto = TransformerEncoderLayer(d, h, ff)
        self.layers = nn.ModuleList([copy.deepcopy(proto) for _ in range(layers)])
        self.readout = nn.Linear(d, classes)
    def forward(self, tokens):
        x = self.embedding(tokens)
        for layer in self.layers:
            x = layer(x)
        return self.readout(x)
"""


@pytest.mark.parametrize("train", [True, False])
def test_student_layer_on_the_graders_mha_is_not_flagged(student, train):
    m = student(HEADER + "import copy\nclass MultiHeadSelfAttention(nn.Module):\n    pass\n" + STUDENT_LAYER)

    def recipe(module: Any) -> Any:
        layer = module.TransformerEncoderLayer(8, 2, 16).train(train)
        with torch.set_grad_enabled(train):
            return layer(randn(2, 5, 8), torch.ones(5, 5, dtype=torch.bool).tril())
    assert run(m, LAYER + MHA, recipe, patch={"MultiHeadSelfAttention": TrustedSelfAttention}).shape == (2, 5, 8)


def test_classifier_on_deep_copied_trusted_layers_is_not_flagged(student):
    """The trusted layer's inner nn.MultiheadAttention / nn.Linear stay trusted through deepcopy."""
    m = student(HEADER + "import copy\nclass MultiHeadSelfAttention(nn.Module):\n    pass\n" + STUDENT_LAYER)

    def recipe(module: Any) -> Any:
        model = module.TokenClassifier(10, 4, 8, 2, 2, 16)
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        tokens = torch.randint(0, 10, (3, 7), generator=torch.Generator().manual_seed(0))
        for _ in range(3):
            loss = model(tokens).logsumexp(-1).mean()
            opt.zero_grad()
            loss.backward()
            opt.step()
        model.eval()
        with torch.no_grad():
            return model(tokens)
    out = run(m, LAYER + MHA + SDPA, recipe, patch={"TransformerEncoderLayer": TrustedEncoderLayer})
    assert out.shape == (3, 7, 4)


STUDENT_CELLS = """
class LSTMCell(nn.Module):
    def __init__(self, i, h):
        super().__init__()
        self.ih, self.hh, self.h = nn.Linear(i, 4 * h), nn.Linear(h, 4 * h), h
    def forward(self, x, state=None):
        if state is None:
            z = x.new_zeros(x.shape[0], self.h)
            state = (z, z)
        h, c = state
        i, f, g, o = (self.ih(x) + self.hh(h)).chunk(4, dim=-1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        return torch.sigmoid(o) * torch.tanh(c), c
class RNN(nn.Module):
    def __init__(self, i, h, cell="lstm"):
        super().__init__()
        self.cell = LSTMCell(i, h)
    def forward(self, x, state=None):
        outs = []
        for t in range(x.shape[1]):
            state = self.cell(x[:, t], state)
            outs.append(state[0])
        return torch.stack(outs, dim=1), state
class SequenceClassifier(nn.Module):
    def __init__(self, i, h, classes):
        super().__init__()
        self.rnn = RNN(i, h)
        self.head = nn.Linear(h, classes)
    def forward(self, x):
        out, _ = self.rnn(x)
        return self.head(out[:, -1])
"""


def test_hand_written_lstm_cell_is_not_flagged(student):
    m = student(HEADER + STUDENT_CELLS)
    out = run(m, FORBID_CELL["LSTMCell"], call_model(randn(3, 5), build="LSTMCell", build_args=(5, 4)))
    assert out[0].shape == (3, 4)
    y = run(m, FORBID_CELL["LSTMCell"], lambda mod: trust(UnrolledCell)(mod.LSTMCell(5, 4))(randn(2, 6, 5)))
    assert y.shape == (2, 6, 4)


def test_student_rnn_on_trusted_cells_is_not_flagged(student):
    m = student(HEADER + STUDENT_CELLS)
    out, _ = run(m, SEQUENCE, call_model(randn(2, 6, 5), build="RNN", build_args=(5, 4)),
                 patch={"LSTMCell": TrustedLSTMCell})
    assert out.shape == (2, 6, 4)


def test_student_classifier_on_a_trusted_rnn_trains_unflagged(student):
    m = student(HEADER + STUDENT_CELLS)

    def recipe(module: Any) -> Any:
        model = module.SequenceClassifier(5, 4, 3)
        opt = torch.optim.Adam(model.parameters(), lr=1e-2)
        for _ in range(3):
            loss = F.cross_entropy(model(randn(8, 6, 5)), torch.arange(8) % 3)
            opt.zero_grad()
            loss.backward()
            opt.step()
        return loss
    assert torch.isfinite(run(m, SEQUENCE, recipe, patch={"RNN": TrustedRNN}))


def test_student_gcn_on_trusted_primitives_is_not_flagged(student, pyg):
    m = student(HEADER + """
class GCNLayer(nn.Module):
    def __init__(self, i, o):
        super().__init__()
        self.lin = nn.Linear(i, o, bias=False)
    def forward(self, x, edge_index):
        h = self.lin(x)
        return scatter(h[edge_index[0]], edge_index[1], x.shape[0])
def scatter(src, index, n):
    raise NotImplementedError
""")
    out = run(m, GNN, call_model(randn(4, 3), EDGES, build="GCNLayer", build_args=(3, 2)),
              patch={"scatter": trusted_scatter})
    assert out.shape == (4, 2)


# -- tampering: what the run-time layer notices at the end (the static scan flags the rest) ----

@pytest.mark.parametrize("body", [
    "torch.overrides._pop_mode()",  # popped and never pushed back
    "threading.setprofile(None)",
    "sys_.meta_path.pop(0)",
    "nn.Linear.forward = nn.Linear.forward.__closure__[0].cell_contents",
    "F.has_torch_function = lambda *a: False",
])
def test_a_watch_switched_off_and_left_off_is_reported_at_the_end(student, body):
    m = student(HEADER + "import sys as sys_\ndef tamper():\n    " + body + "\n")
    saved = (F.has_torch_function, nn.Linear.__dict__["forward"])
    try:
        with pytest.raises(ForbiddenCall) as info:
            run(m, MLP, call_function("tamper"))
    finally:
        F.has_torch_function = saved[0]
    assert info.value.spec == "the forbidden-built-in watch"
    assert torch._C._len_torch_function_stack() == 0 and torch._C._len_torch_dispatch_stack() == 0
    assert nn.Linear.__dict__["forward"] is saved[1] and not any(type(f).__name__ == "_ImportGuard" for f in sys.meta_path)


def test_the_guard_on_operators_called_by_their_handle_replaced_is_reported_at_the_end(student):
    m = student(HEADER + "def tamper():\n    torch._C._dispatch_call_boxed = torch._C._dispatch_call_boxed.__closure__[0].cell_contents\n")
    run(m, MLP, lambda module: None)  # the guard is in place from the first watch on
    guard = torch._C._dispatch_call_boxed
    try:
        with pytest.raises(ForbiddenCall) as info:
            run(m, MLP, call_function("tamper"))
    finally:
        torch._C._dispatch_call_boxed = guard
    assert info.value.spec == "the forbidden-built-in watch" and "called by their handle" in str(info.value)


def test_a_students_own_mode_left_on_the_stack_does_not_hide_calls(student):
    m = student(HEADER + """
class Mine(torch.overrides.TorchFunctionMode):
    def __torch_function__(self, func, types, args=(), kwargs=None):
        return func(*args, **(kwargs or {}))  # HERE (the student's handler makes the call)
def leave_mode():
    Mine().__enter__()
    return F.linear(torch.ones(2, 3), torch.ones(4, 3))
""")
    try:
        caught(m, MLP, call_function("leave_mode"), "torch.nn.functional.linear", "HERE")
    finally:
        while torch._C._len_torch_function_stack():
            torch._C._pop_torch_function_stack()


def test_watch_is_not_reentrant():
    with watching(MLP, "/nonexistent/student.py"), pytest.raises(RuntimeError):
        with watching(MLP, "/nonexistent/student.py"):
            pass


def test_dispatch_mode_can_be_left_off(student):
    """Without the dispatch mode the sdpa kernel nested in F.multi_head_attention_forward goes unseen."""
    m = student(SDPA_HEAD + """
    eye = torch.eye(q.shape[-1])
    out, _ = F.multi_head_attention_forward(q, k, v, q.shape[-1], 1, None, None, None, None, False, 0.0, eye, None,
        use_separate_proj_weight=True, q_proj_weight=eye, k_proj_weight=eye, v_proj_weight=eye, need_weights=False)
    return out, None
""")
    q = randn(5, 2, 8)
    with watching(SDPA, m.__file__, m, dispatch=False):
        m.scaled_dot_product_attention(q, q, q)
    with pytest.raises(ForbiddenCall), watching(SDPA, m.__file__, m):
        m.scaled_dot_product_attention(q, q, q)
