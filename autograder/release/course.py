"""An nbgrader course directory: `source/<a>/<a>.ipynb` (plus its data) for each
assignment, and an `nbgrader_config.py` when the course has none."""

from __future__ import annotations

import shutil
from pathlib import Path

import nbformat

from autograder.paths import project_root
from autograder.release.source_notebook import Material, build_notebook, data_files

CONFIG = '''\
# nbgrader configuration written by `nnzoo release --nbgrader` (edit freely; nnzoo never overwrites it).
c = get_config()
c.CourseDirectory.course_id = "nnzoo"
# a graded cell runs a few hidden tests, some of which train a small model
c.Execute.timeout = 300
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
