"""The picture size a JPEG's header claims, read before decoding.

OpenCV allocates the whole image a header claims before it decodes a byte of it (up to its own
limit of 2**30 pixels, 3 GB in BGR): a broken camera or a hostile URL could make a printer's
small computer run out of memory with a few hundred bytes. Reading the frame header first lets
callers refuse such a picture with a clear error instead.
"""

from __future__ import annotations

from collections.abc import Iterator

__all__ = ["MAX_PIXELS", "header_segments", "jpeg_size", "segment_length", "too_large"]

#: The largest picture decoded: 8K video (7680 x 4320 = 33 MP) with room to spare, about
#: 150 MB in BGR. Camera frames are far smaller; only a broken header claims more.
MAX_PIXELS = 50_000_000

# Start-of-frame markers (baseline, progressive, lossless...); C4, C8 and CC are not frames.
_SOF = frozenset(range(0xC0, 0xD0)) - {0xC4, 0xC8, 0xCC}
_STANDALONE = frozenset(range(0xD0, 0xD9)) | {0x01}  # RSTn, SOI, TEM: no length field


def header_segments(data: bytes) -> Iterator[tuple[int, int]]:
    """``(marker, offset)`` of each header segment after the start marker, in order.

    Fill bytes and markers without a length (RSTn, TEM, a stray SOI) are stepped over. The
    walk stops after the start of scan (the picture data begins at ``offset + 2 +`` its
    :func:`segment_length`), at a byte that is not a marker, or at the end of ``data``.
    """
    i, end = 2, len(data)
    while i + 4 <= end and data[i] == 0xFF:
        marker = data[i + 1]
        if marker == 0xFF:  # fill byte before a marker
            i += 1
            continue
        if marker in _STANDALONE:
            i += 2
            continue
        yield marker, i
        if marker == 0xDA:
            return
        i += 2 + segment_length(data, i)


def segment_length(data: bytes, offset: int) -> int:
    """The length field of the segment whose marker is at ``offset`` (it counts itself)."""
    return int.from_bytes(data[offset + 2:offset + 4], "big")


def jpeg_size(data: bytes) -> tuple[int, int] | None:
    """``(width, height)`` from the first start-of-frame segment, or None when the header is
    not readable (the decoder then reports the picture broken itself)."""
    for marker, i in header_segments(data):
        if marker == 0xDA:  # start of scan before any frame header
            return None
        if marker in _SOF:
            if i + 9 > len(data):
                return None
            height = int.from_bytes(data[i + 5:i + 7], "big")
            width = int.from_bytes(data[i + 7:i + 9], "big")
            return width, height
    return None


def too_large(data: bytes) -> str | None:
    """Why ``data`` must not be decoded ("claims WxH pixels, more than 50 MP"), or None."""
    size = jpeg_size(data)
    if size is None or size[0] * size[1] <= MAX_PIXELS:
        return None
    return f"claims {size[0]}x{size[1]} pixels, more than {MAX_PIXELS // 1_000_000} MP: not decoded"
