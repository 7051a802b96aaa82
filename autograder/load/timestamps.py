"""When a student handed an assignment in, from what the class folder says.

In order of precedence:

1. `<entry>.timestamp.txt` beside the entry in the class folder (`ann.timestamp.txt`
   beside `ann/` or `ann.zip`): the instructor's record of the time the LMS gave, in
   nbgrader's format (`2026-10-20 23:59:01.000000 UTC`, any time zone name or numeric
   offset; no zone: UTC, as nbgrader reads it).
2. The graded file's own time: its modification time in a folder (exact, UTC); for a zip,
   the zip file's own modification time.

Nothing inside an entry is believed: a `timestamp.txt` in a student's folder or zip, or a
zip member's time, may be the student's own (an LMS that keeps each student's uploads in a
folder of their own hands in whatever file the student uploaded; a member back-dated by a
day had dodged a late penalty).  The nbgrader route reads nbgrader's own stamps
(`autograder/nbgrader/bridge.py`).

File times are whatever the download left (an LMS's bulk download sets them to the
submission time; a plain copy to the copy's): the LMS's own submission time, where it
exists, is the better record (1.).
"""

from __future__ import annotations

from datetime import datetime, timezone

STAMP = "timestamp.txt"
MAX_STAMP_BYTES = 200


def parse_stamp(text: str) -> str:
    """A `timestamp.txt`'s time as ISO text with an offset, or "" when unreadable."""
    import dateutil.parser
    import dateutil.tz

    text = text.strip()
    if not text:
        return ""
    try:
        parts = text.split(" ")
        if len(parts) == 3:  # nbgrader's "%Y-%m-%d %H:%M:%S.%f %Z"
            zone = dateutil.tz.tzoffset(None, _offset_seconds(parts[2])) if parts[2].lstrip("+-").isdigit() \
                else dateutil.tz.gettz(parts[2])
            when = dateutil.parser.parse(" ".join(parts[:2]))
            when = when.replace(tzinfo=zone or timezone.utc)
        else:
            when = dateutil.parser.parse(text)
    except (ValueError, OverflowError):
        return ""
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return when.astimezone(timezone.utc).isoformat()


def _offset_seconds(numeric: str) -> int:
    """"+0200" → 7200."""
    sign = -1 if numeric.startswith("-") else 1
    digits = numeric.lstrip("+-").rjust(4, "0")
    return sign * (int(digits[:-2]) * 3600 + int(digits[-2:]) * 60)


def file_time(mtime: float) -> str:
    """A folder file's modification time (seconds since the epoch) as ISO text, UTC."""
    return datetime.fromtimestamp(mtime, timezone.utc).isoformat()
