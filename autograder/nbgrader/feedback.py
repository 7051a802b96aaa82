"""The student's feedback page shows the cells as they were released: without the
hidden-test blocks that grading restores.

Those blocks hold only nnzoo's grading calls (`nnzoo.load_hidden()`, `nnzoo.grade(<test
names>)`) — the notebook carries no hidden test, reference or answer key — but the
feedback is the student's notebook, not the grader's.  `autograded_notebook` applies this
to the notebooks `nnzoo grade --nbgrader` writes; `HideGradingCalls` does the same in
`nbgrader generate_feedback` after `nbgrader autograde` (the course's
`nbgrader_config.py` that `nnzoo release --nbgrader` writes names it).
"""

from __future__ import annotations

from nbconvert.preprocessors import Preprocessor
from traitlets import Bool

from autograder.course.regions import HIDDEN_TESTS, RegionError, outside


def released_source(source: str) -> str:
    """A cell without its hidden-test regions; a cell whose markers do not pair up is a
    student's own text (nnzoo's cells are restored from the gradebook), kept as it is."""
    try:
        return outside(source, HIDDEN_TESTS)
    except RegionError:
        return source


class HideGradingCalls(Preprocessor):
    """An nbconvert preprocessor: every cell's hidden-test regions removed.

    Unlike nbgrader's `ClearHiddenTests`, a student's cell that mentions the markers
    does not stop the feedback of that student.
    """

    enabled = Bool(True).tag(config=True)

    def preprocess_cell(self, cell, resources, index):
        cell.source = released_source(cell.source)
        return cell, resources
