"""An incremental parser for ``multipart/x-mixed-replace`` (MJPEG) streams. Pure: bytes in, parts out.

Cameras disagree on the details, so the parser accepts:
- a boundary declared with or without leading ``--`` and written in the
  stream with or without them (``boundary=frame`` with ``--frame`` lines,
  ``boundary=--frame`` with ``--frame`` lines, or bare ``frame`` lines);
- parts with a ``Content-Length`` header (read exactly) or without one (the
  part ends at the next boundary);
- CRLF or bare LF line endings.
A part that is not a whole JPEG is counted in ``bad_parts`` and skipped, never raised;
``bad_in_a_row`` and ``last_problem`` say how many bad parts came since the last good one and
what was wrong with the latest, so a camera that sends nothing usable can be told apart
from a silent one.
"""

from __future__ import annotations

import re

from .frame import jpeg_problem

__all__ = ["MjpegParser", "boundary_from_content_type"]

_BOUNDARY = re.compile(r'boundary\s*=\s*"?([^";,\s]+)"?', re.IGNORECASE)
_LENGTH = re.compile(rb"^content-length\s*:\s*(\d+)\s*$", re.IGNORECASE | re.MULTILINE)


def boundary_from_content_type(content_type: str) -> str | None:
    """The boundary token of a ``multipart/...`` content type with any leading dashes removed."""
    match = _BOUNDARY.search(content_type or "")
    if not match:
        return None
    token = match.group(1).lstrip("-")
    return token or None


class MjpegParser:
    """Feed it the stream's bytes; it returns each complete JPEG part.

    Memory is bounded by ``max_part_bytes``: a part larger than that (or a
    stream that never shows a boundary) is discarded and counted as bad.
    """

    def __init__(self, boundary: str, *, max_part_bytes: int = 16 * 1024 * 1024) -> None:
        token = boundary.lstrip("-").encode("latin-1")
        if not token:
            raise ValueError("empty multipart boundary")
        self._token = token
        self._max = max_part_bytes
        self._buf = bytearray()
        self._length: int | None = None  # Content-Length of the part being read
        self._in_body = False
        self.parts = 0
        self.bad_parts = 0
        self.bad_in_a_row = 0
        self.last_problem = ""

    def feed(self, data: bytes) -> list[bytes]:
        """Add ``data``; return the JPEG parts it completed, oldest first."""
        self._buf += data
        out: list[bytes] = []
        while True:
            part = self._next_part()
            if part is None:
                break
            self.parts += 1
            problem = jpeg_problem(part)
            if problem is None:
                out.append(part)
                self.bad_in_a_row = 0
            else:
                self._bad(problem)
        if len(self._buf) > self._max:
            # Nothing sensible fits in this much data: start over at the next boundary.
            self._bad(f"more than {self._max} bytes without a whole part")
            self._buf.clear()
            self._in_body = False
            self._length = None
        return out

    def _bad(self, problem: str) -> None:
        self.bad_parts += 1
        self.bad_in_a_row += 1
        self.last_problem = problem

    def _next_part(self) -> bytes | None:
        buf = self._buf
        if not self._in_body:
            start = buf.find(self._token)
            if start < 0:
                # Keep a tail in case the token is split across chunks.
                keep = len(self._token) + 4
                if len(buf) > keep:
                    del buf[:-keep]
                return None
            header_end, sep_len = _find_header_end(buf, start)
            if header_end < 0:
                return None
            headers = bytes(buf[start + len(self._token):header_end])
            match = _LENGTH.search(headers.replace(b"\r", b""))
            self._length = int(match.group(1)) if match else None
            del buf[:header_end + sep_len]
            self._in_body = True
        if self._length is not None:
            if len(buf) < self._length:
                return None
            part = bytes(buf[:self._length])
            del buf[:self._length]
        else:
            end = buf.find(self._token)
            if end < 0:
                return None
            part = bytes(buf[:end]).rstrip(b"-").rstrip(b"\r\n")
            del buf[:end]  # the token starts the next part
        self._in_body = False
        self._length = None
        return part.lstrip(b"\r\n")


def _find_header_end(buf: bytearray, start: int) -> tuple[int, int]:
    """Index and length of the blank line ending a part's headers, or (-1, 0)."""
    crlf = buf.find(b"\r\n\r\n", start)
    lf = buf.find(b"\n\n", start)
    if crlf >= 0 and (lf < 0 or crlf <= lf):
        return crlf, 4
    if lf >= 0:
        return lf, 2
    return -1, 0
