"""An nbgrader course directory: `source/<a>/<a>.ipynb` (plus its data) for each
assignment, and an `nbgrader_config.py` when the course has none."""

from __future__ import annotations

import shutil
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import nbformat

from autograder.course import project_root
from autograder.nbgrader.collect import CollectedNotebook, SourceLayout, read_notebook
from autograder.nbgrader.source_notebook import Material, build_notebook, data_files

CONFIG = '''\
# nbgrader configuration written by `nnzoo release --nbgrader` (edit freely; nnzoo never overwrites it).
c = get_config()
c.CourseDirectory.course_id = "nnzoo"
# a graded cell runs a few hidden tests, some of which train a small model
c.Execute.timeout = 300
# the feedback shows the cells as released, without the grading calls that autograde restores
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor
from nbgrader.preprocessors import GetGrades

from autograder.nbgrader.feedback import HideGradingCalls

c.GenerateFeedback.preprocessors = [GetGrades, CSSHTMLHeaderPreprocessor, HideGradingCalls]
'''


def is_course(course_dir: Path) -> bool:
    """An nbgrader course: it has an `nbgrader_config.py` or a `source/` folder."""
    return (course_dir / "nbgrader_config.py").is_file() or (course_dir / "source").is_dir()


def write_source(course_dir: Path, assignments: list[str]) -> list[Path]:
    """Write the source notebook (and data files) of each assignment; return what was written."""
    course_dir.mkdir(parents=True, exist_ok=True)
    written = []
    config = course_dir / "nbgrader_config.py"
    if not config.exists():
        config.write_text(CONFIG)
        written.append(config)
    for a in assignments:
        folder = course_dir / "source" / a
        folder.mkdir(parents=True, exist_ok=True)
        path = folder / f"{a}.ipynb"
        nbformat.write(build_notebook(Material.load(a)), path)
        written.append(path)
        datasets = project_root() / "datasets"
        for data in data_files(a, datasets):
            target = folder / "datasets" / data.relative_to(datasets)
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(data, target)
            written.append(target)
    return written


class CourseError(Exception):
    """The folder is not a usable nbgrader course (one line, for the command line)."""


@dataclass(frozen=True)
class Course:
    root: Path
    db_url: str

    @classmethod
    def open(cls, root: Path) -> "Course":
        if not root.is_dir():
            raise CourseError(f"{root} does not exist")
        if not is_course(root):
            raise CourseError(f"{root} is not an nbgrader course (no nbgrader_config.py and no source/ folder) — "
                              "create one with `nnzoo release --nbgrader DIR`")
        return cls(root, _db_url(root))

    def layout(self, assignment: str) -> SourceLayout:
        path = self.root / "source" / assignment / f"{assignment}.ipynb"
        if not path.is_file():
            raise CourseError(f"{path} not found — write it with `nnzoo release --nbgrader {self.root} -a {assignment}`")
        return SourceLayout.from_notebook(read_notebook(path.read_text(encoding="utf-8")))

    def check_released(self, assignment: str) -> None:
        from nbgrader.api import Gradebook, MissingEntry

        db = self.root / "gradebook.db"
        if self.db_url.startswith("sqlite:///") and not Path(self.db_url.removeprefix("sqlite:///")).is_file():
            raise CourseError(f"{db} not found — run `nbgrader generate_assignment {assignment}` in {self.root} first")
        with Gradebook(self.db_url) as gb:
            try:
                gb.find_notebook(assignment, assignment)
            except MissingEntry:
                raise CourseError(f"{assignment} is not in the gradebook — run `nbgrader generate_assignment {assignment}` "
                                  f"in {self.root} first") from None

    def duedate(self, assignment: str) -> datetime | None:
        """The assignment's due date in nbgrader's gradebook (`nbgrader db assignment add A
        --duedate ...`), or None."""
        from nbgrader.api import Gradebook, MissingEntry

        with Gradebook(self.db_url) as gb:
            try:
                due = gb.find_assignment(assignment).duedate
            except MissingEntry:
                return None
        return due.replace(tzinfo=timezone.utc) if due is not None else None  # nbgrader stores naive UTC


def _db_url(root: Path) -> str:
    """The gradebook the course's own nbgrader_config.py names (nbgrader's default otherwise)."""
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config.loader import PyFileConfigLoader

    config = None
    if (root / "nbgrader_config.py").is_file():
        try:
            config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
        except Exception as exc:  # noqa: BLE001 — a broken config is the user's to fix
            raise CourseError(f"{root / 'nbgrader_config.py'} could not be read: {exc}") from None
    return CourseDirectory(config=config, root=str(root.resolve())).db_url


# -- grading ---------------------------------------------------------------------------------

@dataclass
class CourseNotebook:
    """One student's notebook of one assignment: `path` is where nbgrader collects it
    (`submitted/<student>/<a>/<a>.ipynb`), whether it is there or not."""

    student: str  # nbgrader's id (the folder name)
    assignment: str
    path: Path
    collected: CollectedNotebook  # what is graded, or the problem (e.g. the notebook is missing)
    submitted: bool = True  # nbgrader collected the assignment (its folder `<student>/<a>/` exists)
