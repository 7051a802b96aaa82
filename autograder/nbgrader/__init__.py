"""nbgrader: source notebooks built from the single source, and grading an nbgrader
course with nnzoo.

    segments.py          the reference split into parts; which test belongs to which part
    source_notebook.py, course.py  the nbgrader source notebook (small steps) → COURSE_DIR
    runtime.py           what the notebook's cells call (public checks; when graded, the
                         hidden tests, read from the grader's own course)
    collect.py           a submitted notebook → the code, the answers, notes
    bridge.py            `nnzoo grade --nbgrader`: grade a course, as `nnzoo grade` does
    gradebook.py         nnzoo's verdicts into autograded notebooks and gradebook.db
    feedback.py          what the student's feedback shows: the cells as released
    cli.py               `nnzoo release --nbgrader` and `nnzoo grade --nbgrader`
"""
