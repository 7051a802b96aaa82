"""Getting assignments to students and grades back: the student bundle, nbgrader source
notebooks built from the single source, and grading an nbgrader course with nnzoo.

    segments.py, content.py      the reference split into parts; intros and questions
    source_notebook.py, course.py  the nbgrader source notebook (small steps) → COURSE_DIR
    runtime.py                   what the notebook's cells call (public and hidden checks)
    bundle.py, leaks.py          the student bundle, and keeping solution code out of it
    collect.py                   a submitted notebook → the code, the answers, notes
    nbgrader_bridge.py, gradebook_writer.py   grade a course; scores into gradebook.db
    cli.py                       `nnzoo release` and `nnzoo grade --nbgrader`
    answer_key.py                the conceptual questions' answers (never in the bundle)
"""
