"""Text the student's code may have written into, as feedback shows it: runs of numbers and
long words (a tensor's repr, base64, hex) left out, the rest cut to a length.  The student's
code saw the hidden inputs, and could write them into an exception's message or a name a
check quotes; an honest message keeps its words and shapes."""

from __future__ import annotations

import re
from functools import lru_cache


@lru_cache(maxsize=8)
def _data(longest_word: int, most_numbers: int) -> re.Pattern:
    """Words of `longest_word` characters or more, and `most_numbers` or more numbers in a
    row with any short separator between them."""
    return re.compile(rf"\S{{{longest_word},}}|(?:[-+]?\d[\d.eE+-]*\D{{1,4}}){{{most_numbers},}}")


def without_data(text: str, *, chars: int, longest_word: int, most_numbers: int) -> str:
    """`text` with its runs of data replaced by "…", cut at `chars`.

    Example:
        >>> without_data("bad input tensor([1., 2., 3., 4., 5., 6., 7., 8., 9., 10.])", chars=240, longest_word=48,
        ...              most_numbers=9)
        'bad input tensor([…'
    """
    text = _data(longest_word, most_numbers).sub("…", text)
    return text if len(text) <= chars else text[: chars - 1] + "…"
