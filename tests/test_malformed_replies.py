"""A reply the worker forged without the parts a probe sends (a missing key, a short list,
a list where the probe sends a dict), of shapes chosen to make the judge broadcast, or with a
training record longer than the request implies, is the student's failure — never a
"grader could not evaluate" error that asks for a rerun, and never the judge's memory or CPU."""

from __future__ import annotations

import base64
import re
import pickle
import zlib
from pathlib import Path

import pytest
import torch

from autograder.checks import replay
from autograder.checks.base import CheckFailed, expect_close, expect_tensor
from autograder.checks.modules import compare_nested
from autograder.checks.graphs import local, node_permutation_equivariant
from autograder.checks.symmetry import causal, permutation_equivariant
from autograder.errors import SubmissionFailure
from autograder.judge.run import grade_file
from autograder.judge.verdict import verdict_for
from autograder.sandbox import SandboxLimits
from autograder.sandbox.client import MalformedReply, as_reply, probe_result
from autograder.worker.probes.core import NONTENSOR
from autograder.worker.spec import Build


def test_a_missing_key_of_a_reply_is_a_student_failure():
    reply = as_reply({"ok": {"output": [1.0], "nested": {"a": 1}}})
    with pytest.raises(SubmissionFailure) as info:
        reply["ok"]["param_grads"]
    assert verdict_for(info.value, in_process=False).status == "failed"
    with pytest.raises(SubmissionFailure):
        reply["ok"]["nested"]["b"]
    with pytest.raises(SubmissionFailure):
        reply["ok"]["output"][3]
    assert reply["ok"].get("missing") is None and reply["ok"]["output"][0] == 1.0


# -- a reply of another structure than the probe's (a list where it sends a dict) ------------

def malformed(read) -> str:
    """The message of the `MalformedReply` that `read()` raises, checked to be the student's failure."""
    with pytest.raises(MalformedReply) as info:
        read()
    assert verdict_for(info.value, in_process=False).status == "failed"
    return str(info.value)


def test_a_list_or_tuple_read_as_a_dict_is_a_student_failure():
    reply = as_reply({"ok": {"output": [1.0, (2.0, 3.0)]}})["ok"]["output"]
    assert "a list where the probe sends a dict" in malformed(lambda: reply["output"])
    assert "a tuple where the probe sends a dict" in malformed(lambda: reply[1]["weights"])
    malformed(lambda: reply.get("param_grads"))
    malformed(lambda: reply.items())
    malformed(lambda: reply.keys())
    assert "a tuple of 2" in malformed(lambda: reply[1][2])
    malformed(lambda: reply[1:][1])  # a slice of a reply is still a reply
    assert reply[1][1] == 3.0 and isinstance(reply[1], tuple) and reply[0:1] == [1.0]


def test_a_grader_bug_reading_a_reply_is_still_a_grader_error():
    reply = as_reply({"ok": [1.0]})["ok"]
    with pytest.raises(TypeError):
        reply[0.5]  # no worker sends a float index: only the grader's own code can
    assert verdict_for(TypeError("boom"), in_process=False).status == "error"
    assert verdict_for(IndexError("boom"), in_process=False).status == "error"


def test_a_reply_goes_back_to_a_worker_as_plain_containers():
    back = pickle.loads(pickle.dumps(as_reply({"w": [1, (2, 3)]})))
    assert type(back) is dict and type(back["w"]) is list and type(back["w"][1]) is tuple


@pytest.mark.parametrize("body, found", [
    ([], "lacks a dict as the result of probe 'run' (it sent a list)"),
    (None, "(it sent None)"),
    (torch.zeros(2), "(it sent a Tensor)"),
    ({"output": 1.0, "param_grads": []}, "'param_grads' as a dict (it sent a list)"),
    ({"output": 1.0, "input_grads": {}}, "'input_grads' as a list (it sent a dict)"),
    ({"output": 1.0, "param_shapes": {"weight": 3}}, "parameter 'weight' as a list of sizes (it sent an int)"),
    ({"output": 1.0, "param_shapes": {"weight": [3, -1]}}, "parameter 'weight' as a list of sizes"),
])
def test_a_probe_result_of_another_structure_is_a_student_failure(body, found):
    assert found in malformed(lambda: probe_result("run", as_reply(body)))


def test_a_probe_result_with_the_probes_structure_passes():
    body = as_reply({"output": (torch.zeros(2),), "input_grads": [None], "param_grads": {"w": None}, "param_shapes": {"w": [2, 3]}})
    assert probe_result("run", body) is body
    assert probe_result("train", as_reply({"rows": []}))["rows"] == []  # only the core probes' containers are fixed


@pytest.mark.parametrize("value, found", [
    (None, "got None"), (3, "got an int"), ([1.0], "got a list"),
    ({NONTENSOR: "Liar"}, "got a Liar (not a plain torch.Tensor)"), ({NONTENSOR: "Adam"}, "got an Adam (not a plain torch.Tensor)"),
])
def test_a_check_names_what_came_instead_of_a_tensor(value, found):
    with pytest.raises(CheckFailed) as failed:
        expect_tensor(value, "the output", "shape")
    assert found in str(failed.value)


@pytest.mark.parametrize("value, expected, rule", [
    (torch.zeros(2, dtype=torch.float32), torch.float64, True),  # float64 in, float32 out
    (torch.zeros(2), torch.bool, False),  # causal_mask of floats: a mask has a dtype of its own
    (torch.zeros(2, dtype=torch.long), torch.float32, False),  # degree counted in integers
])
def test_a_wrong_dtype_cites_the_dtype_rule_only_between_floats(value, expected, rule):
    with pytest.raises(CheckFailed) as failed:
        expect_tensor(value, "the output", "dtype", dtype=expected)
    assert ("should follow the input" in str(failed.value)) is rule
    assert f"expected {expected}" in str(failed.value)


def test_a_float64_result_off_by_float32_round_off_asks_about_float32_steps():
    expected = torch.linspace(-3, 3, 7, dtype=torch.float64).exp()
    messages = {}
    for name, actual in (("round-off", expected * (1 + 5e-7)), ("bug", expected * 1.01)):
        with pytest.raises(CheckFailed) as failed:
            expect_close(actual, expected, "the output", "dtype")
        messages[name] = str(failed.value)
    assert "float32's round-off" in messages["round-off"] and "float32" not in messages["bug"]


# -- shapes the student chose: checked before two replies are compared or indexed ------------

class Forged:
    """A subject whose `run` probe answers `output(call number, request)` (a reply, as a worker's)."""

    label, forbid = "forged", ()

    def __init__(self, output, grads=None) -> None:
        self.output, self.grads, self.calls = output, grads, 0

    def run(self, probe, *, patch=None, seed=0, allow_error=False, **request):
        self.calls += 1
        grads = [None if self.grads is None else self.grads(request)]
        return probe_result(probe, as_reply({"output": self.output(self.calls, request), "input_grads": grads,
                                             "param_grads": {}, "param_shapes": {}}))


X = torch.randn(2, 6, 8, dtype=torch.float64)
MHSA = Build("MultiHeadSelfAttention", 8, 2)


def broadcasting(k: int):
    """(1, N, k) on the first call, (k, N, 1) after: equal values that broadcast to k × N × k."""
    return lambda call, request: torch.ones((1, 6, k) if call == 1 else (k, 6, 1), dtype=torch.float64)


def test_causal_outputs_that_only_broadcast_together_fail_on_their_shapes():
    with pytest.raises(CheckFailed, match=r"the output has shape \(1, 6, 16\), expected \(2, 6, …\)"):
        causal(Forged(broadcasting(16)), model=MHSA, args=(X,), prop="causality", hint="")
    batch_kept = Forged(lambda call, r: torch.ones((2, 6, 16) if call == 1 else (2, 6, 1), dtype=torch.float64))
    with pytest.raises(CheckFailed, match=r"has shape \(2, 6, 1\), but the output for the original input has shape \(2, 6, 16\)"):
        causal(batch_kept, model=MHSA, args=(X,), prop="causality", hint="")


def test_permutation_outputs_that_only_broadcast_together_fail_on_their_shapes():
    with pytest.raises(CheckFailed, match=r"shape \(1, 6, 16\), expected \(2, 6, …\)"):
        permutation_equivariant(Forged(broadcasting(16)), model=MHSA, args=(X,), prop="equivariance", hint="")


def test_a_flattened_output_fails_on_its_shape_not_in_the_grader():
    flat = Forged(lambda call, request: request["args"][0].reshape(-1).clone())
    for check in (causal, permutation_equivariant):
        with pytest.raises(CheckFailed, match=r"the output has shape \(96,\), expected \(2, 6, …\): the first 2 dimension\(s\) of the input \(2, 6, 8\)"):
            check(flat, model=MHSA, args=(X,), prop="p", hint="")


def test_outputs_of_two_dtypes_fail_on_their_dtypes():
    mixed = Forged(lambda call, request: request["args"][0].clone().to(torch.float64 if call == 1 else torch.float32))
    with pytest.raises(CheckFailed, match="dtype torch.float32, but the output for the tokens in order has dtype torch.float64"):
        permutation_equivariant(mixed, model=MHSA, args=(X,), prop="p", hint="")


def test_a_gradient_of_another_shape_than_the_input_fails_on_its_shape():
    honest = Forged(lambda call, request: request["args"][0].cumsum(1), grads=lambda request: torch.ones(96, dtype=torch.float64))
    with pytest.raises(CheckFailed, match=r"the gradient w.r.t. the input has shape \(96,\), expected \(2, 6, 8\)"):
        causal(honest, model=MHSA, args=(X,), prop="causality", hint="")


def test_graph_outputs_that_only_broadcast_together_fail_on_their_shapes():
    gcn = Build("GCN", 3, 8, 2)
    bomb = Forged(lambda call, request: torch.ones((12, 1, 16) if call == 1 else (12, 16, 1), dtype=torch.float64))
    with pytest.raises(CheckFailed, match=r"has shape \(12, 16, 1\), but the output for the unchanged graph has shape \(12, 1, 16\)"):
        local(bomb, model=gcn, hops=1, prop="locality", hint="")
    few = Forged(lambda call, request: torch.ones(3, 2, dtype=torch.float64))
    with pytest.raises(CheckFailed, match=r"the output has shape \(3, 2\), expected \(34, …\): one row per node"):
        node_permutation_equivariant(few, model=gcn, x=torch.randn(34, 3), edge_index=torch.zeros(2, 0, dtype=torch.long), prop="p", hint="")


# -- a training record that takes more steps than the request implies ------------------------------

ROWS = torch.randn(30, 2, dtype=torch.float64)


def record(epochs: int, batch: int = 1) -> dict:
    """A record of `epochs` passes over ROWS, in order, in batches of `batch` rows."""
    rows = ROWS.repeat(epochs, 1)
    return {"rows": rows, "step_rows": [batch] * (len(rows) // batch)}


def test_a_record_longer_than_the_grader_replays_is_refused_before_replaying():
    with pytest.raises(CheckFailed, match=r"took 3300 optimiser steps whose losses came from 3300 rows: more than the grader replays"):
        replay.recorded_batches(record(110), ROWS, "training", "")
    with pytest.raises(CheckFailed, match=r"took 90 optimiser steps whose losses came from 90 rows, but epochs=2 over 30 samples visit 60 rows"):
        replay.recorded_batches(record(3), ROWS, "training", "", epochs=2)
    assert len(replay.recorded_batches(record(2, batch=10), ROWS, "training", "", epochs=2)) == 6
    with pytest.raises(CheckFailed, match="more than the grader replays"):
        replay.replay(Build("torch.nn:Linear", 2, 3), None, ROWS, torch.arange(30) % 3, [torch.tensor([0])] * 301, lr=0.1)


def test_orders_of_more_than_one_epoch_cannot_be_rearranged():
    two_epochs = torch.cat([torch.randperm(30), torch.randperm(30)])
    with pytest.raises(CheckFailed, match="the order the run reported visits 60 samples, where one epoch over 30 samples visits 30"):
        replay.rearranged(ROWS, torch.arange(30), two_epochs, two_epochs)
    with pytest.raises(CheckFailed, match="does not visit each of the 30 samples exactly once"):
        replay.rearranged(ROWS, torch.arange(30), torch.zeros(30, dtype=torch.long), torch.arange(30))


# -- graded for real: forged and broken replies are the student's failures --------------------

SUBMISSIONS = Path(__file__).parent / "submissions"


@pytest.mark.parametrize("name, expected", [
    ("mlp/forged_list_replies", "reply lacks a dict as the result of probe"),
    ("mlp/forged_train_record_too_long", "took 99000 optimiser steps"),
    ("attention/broken_flattens_self_attention", "shape (96,), expected (2, 6, …)"),
    ("attention/broken_shapes_that_broadcast", "has shape (1, 6, 64), expected (2, 6, …)"),
])
def test_a_forged_or_misshapen_reply_is_never_a_grader_error(name, expected):
    result = grade_file(SUBMISSIONS / f"{name}.py", name.split("/")[0], SandboxLimits(call_seconds=60))
    errors = {t.name: t.message for t in result.tests if t.status == "error"}
    assert not errors, errors
    assert any(expected in t.message for t in result.tests if not t.passed), [t.message for t in result.tests if not t.passed]


def test_a_list_where_one_output_should_be_is_never_a_grader_error():
    """The reply the judge compares with the first (x + 1 against x) is checked as a tensor first."""
    result = grade_file(Path(__file__).parent / "malformed" / "gnn_list_for_shifted_input.py", "gnn", SandboxLimits(call_seconds=60))
    assert not [t.name for t in result.tests if t.status == "error"]
    assert [t.name for t in result.tests if not t.passed] == ["test_layers_handle_any_number_of_nodes"]
    assert "should be a torch.Tensor, got a list" in next(t.message for t in result.tests if not t.passed)


@pytest.mark.parametrize("assignment, lost", [("rnn", ["test_rnn_matches_reference", "test_rnn_is_causal"]),
                                             ("attention", ["test_self_attention_is_causal_with_a_causal_mask"])])
def test_a_module_causal_only_for_short_sequences_loses_the_causality_point(assignment, lost):
    """The causality tests also send 20 steps or tokens; these submissions leak the future only
    beyond 12, and kept full marks when every causality probe was 6 long (the RNN's outputs at
    T = 20 are compared with the reference's too)."""
    result = grade_file(Path(__file__).parent / "malformed" / f"{assignment}_causal_only_for_short_sequences.py", assignment,
                        SandboxLimits(call_seconds=60))
    assert [t.name for t in result.tests if not t.passed] == lost
    assert "output 0 changed when only inputs after position 0 changed" in next(t.message for t in result.tests if t.name == lost[-1])


@pytest.mark.parametrize("name, lost", [
    ("mlp_right_only_on_trusted_layers", ["test_mlp_matches_reference"]),
    ("rnn_right_only_on_trusted_cells", ["test_rnn_matches_reference"]),
    ("attention_right_only_on_trusted_attention_function", ["test_self_attention_matches_reference"]),
    ("attention_layer_right_only_on_trusted_attention", ["test_pre_norm_layer_matches_reference", "test_post_norm_layer_matches_reference"]),
    ("attention_classifier_right_only_on_trusted_layers", ["test_token_classifier_matches_reference"]),
    ("gnn_gcn_right_only_on_trusted_layers", ["test_gcn_stacks_num_layers"]),
    ("gnn_layers_right_only_on_trusted_primitives", ["test_message_passing_template", "test_message_passing_hooks",
                                                     "test_gcn_layer_matches_reference", "test_sage_layer_matches_reference",
                                                     "test_k_layers_see_k_hops", "test_messages_follow_edge_direction", "test_global_mean_pool"]),
])
def test_a_composite_right_only_on_the_graders_trusted_parts_loses_its_points(name, lost):
    """The tests run a composite on the grader's trusted parts, so that a wrong part does not cost
    its composite's points too — and a composite can tell those parts by their class's module.
    These are right only on them (with their own right parts: no ReLU, backwards in time, no
    mask, no residuals, layers skipped, messages backwards) and kept full marks until
    2026-12-04; now the composite also runs on the student's own parts where those are right,
    and the trusted primitives are offered only where the student's own are wrong."""
    assignment = name.split("_")[0]
    result = grade_file(Path(__file__).parent / "malformed" / f"{name}.py", assignment, SandboxLimits(call_seconds=60))
    assert [t.name for t in result.tests if not t.passed] == lost, [(t.name, t.message[:200]) for t in result.tests if not t.passed]


@pytest.mark.parametrize("name, lost, found", [
    ("mlp_bool_gradients", ["test_every_mlp_parameter_gets_a_gradient"], "has dtype torch.bool: a gradient is a floating-point tensor"),
    ("attention_float16_in_train_mode", ["test_encoder_layer_dropout_in_train_mode"], "has dtype torch.float16, expected torch.float64"),
    ("gnn_classifier_bool_votes", ["test_graph_classifier_respects_batch", "test_graph_classification"], "dtype torch.bool"),
    ("rnn_bool_input_grads", ["test_rnn_cell_matches_reference", "test_lstm_cell_matches_reference",
                              "test_gru_cell_matches_reference", "test_rnn_matches_reference", "test_rnn_is_causal",
                              "test_gradients_reach_the_first_input", "test_sequence_classifier_matches_reference"],
     "has dtype torch.bool, expected torch.float64"),
])
def test_a_tensor_of_another_dtype_is_the_students_failure(name, lost, found):
    """Bool gradients (a forged probe), a layer answering float16 in train mode, a classifier
    answering bool votes: the judge's arithmetic on them raised, a grader error that asks for a
    rerun, until 2026-12-04 (bool input gradients of an RNN until 2026-12-05: a check that names
    no dtype now refuses booleans); now each costs the tests that read them, with the dtype named."""
    result = grade_file(Path(__file__).parent / "malformed" / f"{name}.py", name.split("_")[0], SandboxLimits(call_seconds=60))
    assert [t.name for t in result.tests if not t.passed] == lost, [(t.name, t.message[:200]) for t in result.tests if not t.passed]
    assert all(found in t.message for t in result.tests if not t.passed)


def test_a_misshapen_step_contribution_is_the_students_failure():
    """One step's gradient of a shared RNN weight sent back with an extra dimension: the judge
    stacked the steps' contributions and raised, a grader error (an outside audit's, until
    2026-12-05); now each contribution is checked for the shared weight's shape first."""
    name = "rnn_step_contribution_with_an_extra_dim"
    result = grade_file(Path(__file__).parent / "malformed" / f"{name}.py", "rnn", SandboxLimits(call_seconds=60))
    lost = [t for t in result.tests if not t.passed]
    assert [t.name for t in lost] == ["test_shared_weight_gradient_is_the_sum_over_steps"], [(t.name, t.message[:200]) for t in lost]
    assert lost[0].status == "failed" and "step 0's gradient of `cell.weight_ih` has shape (1, " in lost[0].message, lost[0].message


def test_a_students_exception_message_shows_no_data():
    """The message of a student's exception reaches the feedback of hidden tests: written by the
    student's code, it could carry the grader's hidden inputs out (an outside audit's layer
    raised with its input, compressed, in the message: it came back bit for bit until
    2026-12-04).  Runs of numbers and of characters without a space are left out, the rest
    bounded; an honest message stays as it was."""
    from autograder.sandbox.client import MESSAGE_CHARS, student_error

    data = torch.randn(2, 5, 8, dtype=torch.float64)
    blob = base64.b85encode(zlib.compress(data.numpy().tobytes())).decode()
    for message in (f"bad input {data}", f"x{tuple(data.shape)} data={blob}", "word " * 200, str(data.tolist())):
        shown = student_error({"types": ["ValueError"], "message": message}).message
        assert len(shown) <= MESSAGE_CHARS and blob[:20] not in shown and f"{float(data[0, 0, 1]):.4f}" not in shown, shown
    honest = "mat1 and mat2 shapes cannot be multiplied (3x4 and 5x6)"
    assert student_error({"types": ["RuntimeError"], "message": honest}).message == honest


@pytest.mark.parametrize("name, lost", [
    ("mlp_part_fails_only_when_rechecked", ["test_mlp_matches_reference"]),
    ("rnn_cell_fails_only_when_rechecked", ["test_rnn_matches_reference"]),
    ("attention_eval_nudged_after_train_mode", ["test_encoder_layer_dropout_in_train_mode"]),
    ("gnn_primitive_wrong_only_in_a_fresh_worker", [
        "test_message_passing_template", "test_message_passing_hooks", "test_gcn_layer_matches_reference",
        "test_sage_layer_matches_reference", "test_k_layers_see_k_hops", "test_messages_follow_edge_direction", "test_global_mean_pool"]),
])
def test_a_part_that_answers_a_recheck_otherwise_excuses_nothing(name, lost):
    """A check that excuses a failure by a part's (a composite's wrong part, a layer's wrong
    primitive, a layer otherwise wrong) asks the part's own test (`checks.verdicts`), not the
    worker again: these parts passed their own tests and answered the re-check otherwise —
    failing once a composite existed, in a fresh worker's first call, after train mode ran —
    to hide a composite right only on the grader's trusted parts, or dropout out of place,
    and kept full marks until 2026-12-04."""
    assignment = name.split("_")[0]
    result = grade_file(Path(__file__).parent / "malformed" / f"{name}.py", assignment, SandboxLimits(call_seconds=60))
    assert [t.name for t in result.tests if not t.passed] == lost, [(t.name, t.message[:200]) for t in result.tests if not t.passed]



@pytest.mark.parametrize("name", ["mlp_names_a_module_that_exits_at_import", "mlp_main_guard_nested_past_the_recursion_limit"])
def test_what_the_static_scan_reads_is_never_a_grader_error(name):
    """The scan reads the source in the judge: a name of a module that exits at import, or a
    `__main__` guard nested past the recursion limit, made every `forbid` test (or the whole
    assignment) a grader error that `--resume` regraded for ever, until 2026-12-04.  The scan
    imports nothing now, and reads the guard by its shape."""
    result = grade_file(Path(__file__).parent / "malformed" / f"{name}.py", "mlp", SandboxLimits(call_seconds=60))
    assert [(t.name, t.status, t.message[:200]) for t in result.tests if not t.passed] == []


def test_a_checks_message_quotes_little_of_what_the_students_code_chose():
    """A layer that named zero-size parameters after the hidden inputs it saw got 4,800 of them
    back bit for bit in the layout check's message (an outside audit's, 2026-12-04).  The check
    names a few parameters, each cut short, and every graded message is bounded and loses long
    runs of data (`judge.verdict.bounded_feedback`)."""
    from autograder.judge.verdict import FEEDBACK_CHARS

    result = grade_file(Path(__file__).parent / "malformed" / "mlp_names_parameters_after_its_inputs.py", "mlp",
                        SandboxLimits(call_seconds=60))
    failed = {t.name: t.message for t in result.tests if not t.passed}
    assert list(failed) == ["test_mlp_layers_follow_sizes"], failed
    message = failed["test_mlp_layers_follow_sizes"]
    assert "unexpected" in message and "more" in message and len(message) <= FEEDBACK_CHARS, message
    assert max(len(run) for run in re.findall(r"[0-9a-f]+", message)) <= 40, message


@pytest.mark.parametrize("name, lost", [
    ("rnn_launders_a_builtin_through_the_trusted_swap", ["test_rnn_matches_reference", "test_rnn_has_one_cell_for_every_length",
                                                          "test_shared_weight_gradient_is_the_sum_over_steps", "test_rnn_is_causal",
                                                          "test_gradients_reach_the_first_input",
                                                          "test_sequence_classifier_recalls_an_early_symbol"]),
    ("rnn_launders_a_builtin_through_the_glance", ["test_rnn_matches_reference", "test_rnn_has_one_cell_for_every_length",
                                                   "test_shared_weight_gradient_is_the_sum_over_steps", "test_rnn_is_causal",
                                                   "test_gradients_reach_the_first_input"]),
    ("attention_launders_a_layer_through_num_heads", ["test_encoder_layer_parameters_like_pytorch", "test_pre_norm_layer_matches_reference",
                                                      "test_post_norm_layer_matches_reference", "test_encoder_layer_is_permutation_equivariant",
                                                      "test_encoder_layer_dropout_is_off_in_eval_mode",
                                                      "test_encoder_layer_dropout_in_train_mode"]),
    ("attention_launders_a_layer_through_an_int_subclass", [
        "test_self_attention_matches_reference", "test_self_attention_keeps_n_tokens_with_the_same_weights",
        "test_self_attention_is_permutation_equivariant", "test_self_attention_is_causal_with_a_causal_mask",
        "test_pre_norm_layer_matches_reference", "test_post_norm_layer_matches_reference", "test_encoder_layer_is_permutation_equivariant",
        "test_encoder_layer_dropout_is_off_in_eval_mode", "test_encoder_layer_dropout_in_train_mode"]),
    ("attention_launders_a_layer_through_a_plain_object", [
        "test_self_attention_parameters_like_pytorch", "test_self_attention_matches_reference",
        "test_self_attention_keeps_n_tokens_with_the_same_weights", "test_self_attention_is_permutation_equivariant",
        "test_self_attention_is_causal_with_a_causal_mask", "test_encoder_layer_parameters_like_pytorch",
        "test_pre_norm_layer_matches_reference", "test_post_norm_layer_matches_reference", "test_encoder_layer_is_permutation_equivariant",
        "test_encoder_layer_dropout_is_off_in_eval_mode", "test_encoder_layer_dropout_in_train_mode"]),
    ("attention_launders_a_layer_through_a_module_argument", [
        "test_self_attention_parameters_like_pytorch", "test_self_attention_matches_reference",
        "test_self_attention_keeps_n_tokens_with_the_same_weights", "test_self_attention_is_permutation_equivariant",
        "test_self_attention_is_causal_with_a_causal_mask", "test_encoder_layer_parameters_like_pytorch",
        "test_pre_norm_layer_matches_reference", "test_post_norm_layer_matches_reference", "test_encoder_layer_is_permutation_equivariant",
        "test_encoder_layer_dropout_is_off_in_eval_mode", "test_encoder_layer_dropout_in_train_mode"]),
    ("attention_copies_the_trust_mark", [
        "test_self_attention_parameters_like_pytorch", "test_self_attention_matches_reference",
        "test_self_attention_keeps_n_tokens_with_the_same_weights", "test_self_attention_is_permutation_equivariant",
        "test_self_attention_is_causal_with_a_causal_mask",
        "test_pre_norm_layer_matches_reference", "test_post_norm_layer_matches_reference", "test_encoder_layer_is_permutation_equivariant",
        "test_encoder_layer_dropout_is_off_in_eval_mode", "test_encoder_layer_dropout_in_train_mode"]),
])
def test_the_students_code_run_by_a_trusted_factory_is_watched(name, lost):
    """A trusted swap factory runs as a boundary of the forbidden-call watch; the student's
    class hooks and cell it touches ran inside it, and a built-in their C-level callables
    built there was marked trusted (18/21 for an RNN not written or broken, an audit,
    2026-12-04).  The factory now touches the student's objects only `untrusted()`, and the
    class it combines runs no class hook of the student's: the honest 12/21.  A factory now
    trusts only the construction of the grader's own class: reading the student's
    part (attention's `num_heads` getter built a layer there: 20/24, honest 17/24) is the
    student's code.  A trusted object takes plain numbers, and trusts only the modules it
    holds once built (an `int` of the student's built a layer inside the trusted
    constructor and stowed it: 19/24, honest 13/24, an audit, 2026-12-05; a plain object
    did the same: 18/24 against 11/24, and so did a module: a trusted object takes none).  A trust mark copied onto a layer built at import
    proves nothing: the watch keeps its trusted modules by identity (17/24 against 12/24)."""
    result = grade_file(Path(__file__).parent / "malformed" / f"{name}.py", name.split("_")[0], SandboxLimits(call_seconds=60))
    assert [t.name for t in result.tests if not t.passed] == lost, [(t.name, t.message[:200]) for t in result.tests if not t.passed]


def test_a_package_loaded_at_import_costs_every_test_that_forbids_it():
    """PyG compiled by TorchScript at import ran unseen by the package check (27/27, the
    same calls unscripted 20/27, an audit, 2026-12-05): a package the student's import loads
    is theirs, and every gnn test forbids PyG, as an open `import torch_geometric` costs."""
    result = grade_file(Path(__file__).parent / "malformed" / "gnn_scripts_pyg_at_import.py", "gnn", SandboxLimits(call_seconds=60))
    assert result.score == 0 and all("imports torch_geometric when it is loaded" in t.message for t in result.tests), \
        [(t.name, t.message[:120]) for t in result.tests if "when it is loaded" not in t.message]


def test_a_chain_too_deep_for_a_rescan_hides_no_forbidden_name():
    """The source is parsed once, where the judge first scans it, and a scan that could not
    read the file rules out no forbidden name: the file loses what F.linear alone loses."""
    result = grade_file(Path(__file__).parent / "malformed" / "mlp_forbidden_call_beside_a_deep_chain.py", "mlp",
                        SandboxLimits(call_seconds=60))
    assert [t.name for t in result.tests if not t.passed] == [
        "test_linear_parameters_match_nn_linear", "test_linear_initialised_like_nn_linear", "test_linear_forward_matches_reference",
        "test_linear_gradients_match_reference"], [(t.name, t.message[:100]) for t in result.tests if not t.passed]


@pytest.mark.timeout(120)
def test_a_crafted_exception_name_costs_the_judge_no_more_than_a_plain_one():
    """The feedback filter reads every failed test's message in the judge; its regex of
    repeated number-and-separator groups backtracked exponentially on a crafted class name.
    One pass over the numbers now: the file fails every test at once, naming its exception."""
    result = grade_file(Path(__file__).parent / "malformed" / "mlp_exception_class_named_to_backtrack.py", "mlp",
                        SandboxLimits(call_seconds=60))
    assert result.score == 0 and all("when importing it" in t.message for t in result.tests), result.tests[0].message


@pytest.mark.parametrize("name, lost", [
    ("mlp_empty_input_grads", ["test_linear_gradients_match_reference", "test_relu_matches_reference", "test_mlp_matches_reference"]),
    ("attention_empty_input_grads", ["test_attention_matches_reference", "test_self_attention_matches_reference",
                                     "test_pre_norm_layer_matches_reference", "test_post_norm_layer_matches_reference"]),
    ("mlp_loss_run_without_its_record", ["test_epoch_loss_is_mean_over_samples"]),
    ("transfer_loss_run_without_its_record", ["test_epoch_loss_is_the_mean_over_samples"]),
    ("transfer_trajectory_left_out", ["test_frozen_normalisation_statistics_stay_bitwise_equal"]),
    ("transfer_head_bias_left_out", ["test_replace_head_draws_fresh_weights"]),
])
def test_a_reply_that_leaves_out_what_a_check_reads_loses_the_checks_points(name, lost):
    """What a check reads from a reply is the worker's word: an empty list of input gradients
    (zipped with the reference's, none compared), a training run without its record or its
    trajectory (the check skipped), a head without its bias (counted as zeros) kept the points
    of the bug each file hides (an outside audit's, 2026-12-04).  A reply that proves nothing
    now vouches for nothing, unless the loop's own test failed and says why."""
    assignment = name.split("_")[0]
    result = grade_file(Path(__file__).parent / "malformed" / f"{name}.py", assignment, SandboxLimits(call_seconds=60))
    assert [t.name for t in result.tests if not t.passed] == lost, [(t.name, t.message[:200]) for t in result.tests if not t.passed]



@pytest.mark.parametrize("name, lost", [
    ("mlp_losses_as_dicts_of_tensors", ["test_epoch_loss_is_mean_over_samples"]),
    ("mlp_losses_as_text", ["test_epoch_loss_is_mean_over_samples"]),
    ("attention_float32_in_train_mode_without_a_mask", ["test_encoder_layer_dropout_in_train_mode"]),
    ("attention_forged_device_calls_as_a_tensor", ["test_causal_mask_is_lower_triangular"]),
    ("attention_load_raises_an_empty_error", ["test_self_attention_parameters_like_pytorch", "test_self_attention_matches_reference",
                                              "test_self_attention_keeps_n_tokens_with_the_same_weights",
                                              "test_self_attention_is_causal_with_a_causal_mask"]),
    ("gnn_classifier_logits_alternate_dtypes", ["test_graph_classifier_respects_batch", "test_graph_classification"]),
    ("gnn_forged_empty_matrix_parameter", []),
    ("gnn_gcn_float32_for_large_inputs", ["test_layers_handle_any_number_of_nodes", "test_isolated_nodes",
                                          "test_layers_are_permutation_equivariant", "test_k_layers_see_k_hops",
                                          "test_messages_follow_edge_direction"]),
    ("gnn_sage_float32_from_its_second_call", ["test_sage_layer_matches_reference", "test_layers_are_permutation_equivariant"]),
    ("gnn_nodes_as_one_hot_rows", ["test_edge_index_from_networkx"]),
    ("rnn_forged_calls_as_a_tensor", ["test_shared_weight_gradient_is_the_sum_over_steps"]),
    ("rnn_norms_bare_assert", ["test_gradient_norms_match_autograd", "test_tanh_gradients_vanish_and_lstm_gradients_do_not"]),
    ("transfer_one_row_step_record", ["test_frozen_normalisation_statistics_stay_bitwise_equal",
                                      "test_trainable_normalisation_layers_train_in_training_mode"]),
    ("transfer_head_weight_is_bool", ["test_replace_head_installs_a_linear_of_the_right_shape",
                                      "test_replace_head_follows_the_old_heads_dtype_and_device",
                                      "test_replace_head_draws_fresh_weights"]),
])
def test_what_made_a_judge_comparison_raise_is_the_students_failure(name, lost):
    """Replies whose values the judge compared before checking them — dicts of tensors, another dtype
    on some calls only, a count or a list of calls sent as a tensor, a (0, 0) parameter, an
    exception without a message, a recorded step of one row that the judge's BatchNorm replay
    could not take — made the judge raise: a grader error that asks for a rerun, on
    every rerun (hostile audits, 2026-12-05; four of them honest bugs: a bare `assert`, losses as text,
    nodes as one-hot rows).  Now each costs exactly the tests that read them."""
    result = grade_file(Path(__file__).parent / "malformed" / f"{name}.py", name.split("_")[0], SandboxLimits(call_seconds=60))
    assert not [t.name for t in result.tests if t.status == "error"], [(t.name, t.message[:200]) for t in result.tests if t.status == "error"]
    assert [t.name for t in result.tests if not t.passed] == lost, [(t.name, t.message[:200]) for t in result.tests if not t.passed]


@pytest.mark.parametrize("actual, expected, same", [
    (3, 3, True), ("0.693147", "0.693147", True), (None, None, True), ([1, "a"], [1, "a"], True),
    (3, 4, False), ("0.69", "0.70", False), ([torch.ones(2), 1], [0, 1], False), ({"a": torch.ones(2)}, {"a": 1}, False),
])
def test_two_runs_compared_item_by_item_never_raise(actual, expected, same):
    """Two of the student's runs compared by `compare_nested` (losses as ints or text, a dict
    of tensors): equal or a student's failure, never the judge's exception — the safe
    comparison was once shadowed by a tensor helper of the same name (an audit, 2026-12-05)."""
    if same:
        compare_nested(actual, expected, "the losses", "determinism", "hint")
    else:
        with pytest.raises(CheckFailed):
            compare_nested(actual, expected, "the losses", "determinism", "hint")
