"""When a student handed an assignment in, from what the entry itself says.

In order of precedence:

1. `timestamp.txt` beside the graded file, else at the top of a folder entry — what
   nbgrader's exchange writes on `nbgrader submit` (`2026-10-20 23:59:01.000000 UTC`, any
   time zone name or numeric offset; no zone: UTC, as nbgrader reads it).  An instructor
   can drop one into a student's folder to record the time the LMS gave.  One inside a zip
   is not read: the zip is the student's own archive, and its stamp would be theirs.
2. The graded file's own time: its modification time in a folder (exact, UTC); a zip
   member's time from its extended-timestamp field (UTC, written by Info-ZIP and most
   tools) or else from the member's DOS date and time, which has no zone (recorded
   without an offset and read in the term's time zone, `nnzoo.toml`'s `timezone`).

File times are whatever the student's machine or the download left: the LMS's own
submission time, where it exists, is the better record (`timestamp.txt`).
"""

from __future__ import annotations

import struct
import zipfile
from datetime import datetime, timezone

STAMP = "timestamp.txt"
MAX_STAMP_BYTES = 200
EXTENDED_TIMESTAMP = 0x5455  # "UT": Info-ZIP's extended timestamp extra field


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


def zip_member_time(member: zipfile.ZipInfo) -> str:
    """A zip member's time: UTC from its extended timestamp, else its zone-less DOS time."""
    extra = member.extra
    while len(extra) >= 4:
        kind, size = struct.unpack("<HH", extra[:4])
        body = extra[4:4 + size]
        if kind == EXTENDED_TIMESTAMP and len(body) >= 5 and body[0] & 1:
            return file_time(struct.unpack("<i", body[1:5])[0])
        extra = extra[4 + size:]
    return datetime(*member.date_time).isoformat()

