"""The right choices of the conceptual questions (instructor-only).

This file never reaches a student: the student bundle leaves it out, and a released
notebook holds only its hashes, inside hidden tests that nbgrader strips.
"""

ANSWER_KEY: dict[str, dict[str, str]] = {
    "mlp": {"q1": "c", "q2": "a", "q3": "d"},
    "attention": {"q1": "b", "q2": "c", "q3": "d"},
    "rnn": {"q1": "a", "q2": "b", "q3": "c"},
    "gnn": {"q1": "d", "q2": "a", "q3": "b"},
    "transfer": {"q1": "b", "q2": "c", "q3": "d"},
}
