"""Does a file hold all the image data its header promises? Cheap checks, without
decoding, for refusing a cut-off upload at once (the decoder finds it only later, in
the worker). Each reads the container's structure, never the pixels.

Each answers True when the file may be whole, and False only when it certainly is not:
a file that passes can still be damaged inside (the worker's decoder says so then).
"""

from __future__ import annotations

import struct
from typing import BinaryIO

from PIL import Image

_CHUNK = 1024 * 1024


class Unreasonable(ValueError):
    """A structure no camera or editor writes, built to make the walk slow (millions
    of segments, megabytes of filler between markers): refused as damaged, at once."""


#: Bounds of a real file's structure: filler bytes between a JPEG's header markers,
#: segments before its first scan, chunks in a PNG and top-level boxes in a HEIF.
#: Cameras write a few bytes of filler at most and a few dozen segments; a PNG of
#: 60 MB in 8 kB chunks has 7,500.
MAX_FILLER = 64 * 1024
MAX_SEGMENTS = 1000
MAX_CHUNKS = 100_000
MAX_BOXES = 10_000


def jpeg_scan_start(fp: BinaryIO) -> int | None:
    """Walk a JPEG's markers to its first scan: where the image data starts, or None if
    the file ends first. Raises :class:`Unreasonable` for a header past the bounds
    (Pillow's own walk skips filler a byte at a time: 60 MB of it cost 5 s of CPU)."""
    fp.seek(2)  # after SOI
    filler = segments = 0
    while True:
        byte = fp.read(1)
        if not byte:
            return None
        if byte != b"\xff":
            filler += 1  # not at a marker: the header is odd; let the decoder judge
            if filler > MAX_FILLER:
                raise Unreasonable("filler between the JPEG's markers")
            continue
        marker = fp.read(1)
        while marker == b"\xff":  # fill bytes
            filler += 1
            if filler > MAX_FILLER:
                raise Unreasonable("filler between the JPEG's markers")
            marker = fp.read(1)
        if not marker:
            return None
        segments += 1
        if segments > MAX_SEGMENTS:
            raise Unreasonable("segments before the JPEG's image data")
        if marker[0] in (0x01, *range(0xD0, 0xD8)):  # standalone markers
            continue
        if marker == b"\xd9":
            return None  # an end before any scan
        length = fp.read(2)
        if len(length) < 2:
            return None
        (n,) = struct.unpack(">H", length)
        fp.seek(n - 2, 1)
        if marker == b"\xda":  # start of scan: the image data follows
            return fp.tell()


def jpeg_complete(fp: BinaryIO, size: int) -> bool:
    """An EOI marker (FF D9) after the first scan's header. Inside entropy-coded data a
    0xFF byte is always followed by 0x00 or a restart marker, so FF D9 there is the
    real end of the image; the EOI of an EXIF thumbnail lies before the first scan and
    does not count. Data after the EOI (some cameras append their own) is allowed."""
    if jpeg_scan_start(fp) is None:
        return False
    data_start = fp.tell()
    # Most files end with their EOI: look at the end first, then read the whole.
    fp.seek(max(data_start, size - 65536))
    if b"\xff\xd9" in fp.read():
        return True
    fp.seek(data_start)
    tail = b""
    while chunk := fp.read(_CHUNK):
        if b"\xff\xd9" in tail + chunk:
            return True
        tail = chunk[-1:]
    return False


def png_complete(fp: BinaryIO, size: int) -> bool:
    """Every image data (IDAT) chunk fits in the file, and there is one. A file cut after
    its last IDAT (in the IEND chunk, say) still holds the whole image: the decoder reads
    it, so it is not refused here; nor is one that ends just at a chunk's end, which
    may be whole (the decoder knows when the compressed data stops)."""
    pos, seen_data = 8, False
    for _ in range(MAX_CHUNKS):
        fp.seek(pos)
        head = fp.read(8)
        if len(head) < 8:
            return seen_data
        length, kind = struct.unpack(">I4s", head)
        pos += 12 + length
        if kind == b"IDAT":
            seen_data = True
            if pos - 4 > size:  # its data is cut (a missing CRC alone is no loss)
                return False
        elif pos > size or kind == b"IEND":
            return seen_data
    raise Unreasonable("chunks in the PNG")


def webp_complete(fp: BinaryIO, size: int) -> bool:
    """The RIFF header states the file's length."""
    fp.seek(4)
    (riff_size,) = struct.unpack("<I", fp.read(4))
    return riff_size + 8 <= size


def tiff_complete(im: Image.Image, size: int) -> bool:
    """The first image's strips (or tiles) lie inside the file."""
    tags = getattr(im, "tag_v2", {})
    for offsets_tag, counts_tag in ((273, 279), (324, 325)):
        offsets, counts = tags.get(offsets_tag), tags.get(counts_tag)
        if offsets is None:
            continue
        if isinstance(offsets, int):
            offsets = (offsets,)
        if counts is None:
            return False
        if isinstance(counts, int):
            counts = (counts,)
        if any(o + c > size for o, c in zip(offsets, counts, strict=False)):
            return False
    return True


def heif_complete(fp: BinaryIO, size: int) -> bool:
    """The top-level boxes (ftyp, meta, mdat, ...) each fit in the file."""
    pos = boxes = 0
    while pos < size:
        boxes += 1
        if boxes > MAX_BOXES:
            raise Unreasonable("top-level boxes in the HEIF file")
        fp.seek(pos)
        head = fp.read(8)
        if len(head) < 8:
            return False
        (box_size,) = struct.unpack(">I", head[:4])
        if box_size == 1:  # a 64-bit size follows the type
            large = fp.read(8)
            if len(large) < 8:
                return False
            (box_size,) = struct.unpack(">Q", large)
        elif box_size == 0:  # the last box, to the end of the file
            return True
        if box_size < 8:
            return False
        pos += box_size
    return pos == size
