"""Gradescope: the autograder zip nnzoo builds, and the grader it runs in Gradescope's container.

    build.py     `nnzoo gradescope build A --out autograder.zip`: setup.sh + run_autograder + the project
    run.py       `nnzoo gradescope run`: one submission graded into results.json (what run_autograder calls)
    results.py   results.json in Gradescope's format, rewritten after every test
    templates/   setup.sh and run_autograder
"""
