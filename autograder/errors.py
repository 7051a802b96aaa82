"""What can go wrong with a submission, as exceptions the judge turns into messages."""

from __future__ import annotations

#: Added to an EPERM error (`[Errno 1]`), what the worker's system-call filter answers.
SANDBOX_DENIED = ("; graded code runs in one process, offline: it may not start processes (subprocess, multiprocessing, "
                  "a DataLoader with num_workers > 0), run programs or open network sockets — do the work in the "
                  "process itself (DataLoader's default num_workers=0 does)")

#: Added to an EFBIG error (`[Errno 27]`): the worker's file-size limit (RLIMIT_FSIZE) was hit.
OUTPUT_CAPPED = ("; graded code may write a file, its printed output included, only up to the sandbox's size limit "
                 "(64 MiB by default) — print less, e.g. not on every step of a loop")


#: Added to an ENOENT error (`[Errno 2]`): graded code sees no files but its own and the libraries'.
NO_DATA_FILES = ("; graded code runs without your files and data sets (scikit-learn's bundled data included: the "
                 "grader evaluates on them) — read data only inside the functions the grader calls with it, and keep "
                 "exploration (loading a data set, plots) under `if __name__ == \"__main__\":` or out of the file")

#: Added to an EOFError: the worker's stdin is empty, so `input()` ends at once.
NO_KEYBOARD = ("; graded code gets no keyboard input, so input() finds the end of the input at once — take values as "
               "arguments, and keep interactive code under `if __name__ == \"__main__\":`")


class StudentCodeError(Exception):
    """The student's code raised (in the worker, or at import)."""

    def __init__(self, types: list[str], message: str, where: str = "", during: str = "") -> None:
        self.types = types
        self.message = message
        self.where = where
        self.during = during
        super().__init__(self.describe())

    @property
    def type_name(self) -> str:
        return self.types[0] if self.types else "Exception"

    def describe(self) -> str:
        where = f" ({self.where})" if self.where else ""
        during = f" {self.during}" if self.during else ""
        hint = {"[Errno 1]": SANDBOX_DENIED, "[Errno 2]": NO_DATA_FILES, "[Errno 27]": OUTPUT_CAPPED}
        why = next((text for errno, text in hint.items() if "OSError" in self.types and errno in self.message), "")
        if self.type_name == "EOFError":
            why = NO_KEYBOARD
        return f"your code raised {self.type_name}{during}: {self.message}{where}{why}"


class SubmissionFailure(Exception):
    """The worker did not answer: timeout, memory, crash or early exit.

    `reason` is one of "timeout", "memory", "crash", "exit", "budget", "policy".
    """

    def __init__(self, reason: str, message: str) -> None:
        self.reason = reason
        super().__init__(message)


class GraderError(Exception):
    """The sandbox itself could not run: not the student's fault; rerun the grading."""
