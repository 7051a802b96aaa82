"""The check library: generic property checks that every assignment's tests call.

Each check probes a `Subject` (the student's implementation, in a sandbox or in-process)
and, where there is one, a reference `Subject`, then raises `CheckFailed` with a message
that names the property and gives a hint — never the hidden values.  Points are the
test's (`@pytest.mark.points`).  A failing check also attaches the numbers of a picture
that explains the failure (`show`: an accuracy against its threshold, where an output
differs, a training curve, gradient norms per step) to the test's result.
"""

from autograder.checks.base import (
    CheckFailed,
    expect_close,
    expect_tensor,
    output_tensor,
    reaches,
)
from autograder.checks.figures import (
    show,
    show_accuracy,
    show_gradient_norms,
    show_heatmap,
    show_per_node,
    show_training_curve,
)
from autograder.checks.modules import (
    composed_of_its_own_parts,
    depends_on_weights,
    every_parameter_gets_gradient,
    matches_reference,
    parameters_like,
    raises,
    reference_state_dict,
    shape_preserved,
)
from autograder.checks.training import (
    accuracy_of,
    evaluated_output,
    trained_accuracy,
    trained_weights,
)

__all__ = [
    "CheckFailed",
    "expect_tensor",
    "expect_close",
    "output_tensor",
    "reaches",
    "composed_of_its_own_parts",
    "depends_on_weights",
    "every_parameter_gets_gradient",
    "matches_reference",
    "parameters_like",
    "raises",
    "shape_preserved",
    "reference_state_dict",
    "accuracy_of",
    "evaluated_output",
    "trained_accuracy",
    "trained_weights",
    "show",
    "show_accuracy",
    "show_gradient_norms",
    "show_heatmap",
    "show_per_node",
    "show_training_curve",
]
