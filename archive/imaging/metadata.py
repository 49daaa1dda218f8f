"""The metadata report: which kinds of identifying metadata a file held.

The report is best-effort and only informs the photographer: cleaning does not depend on
it, because the cleaned file is written from pixels alone. Readers used: exifread (EXIF,
maker notes, thumbnails), Pillow (EXIF, XMP, ICC, PNG text, Photoshop/IPTC blocks) and a
walk over the JPEG's own segments, so that one parser's blind spot is covered by another.

:meth:`MetadataFindings.kinds_report` is safe to store: it names kinds, never values.
:func:`describe` returns the values themselves, for the offline CLI to show its own user
on the terminal only; nothing else calls it, and its result is never stored.
"""

from __future__ import annotations

import logging
import re
import struct
import warnings
from dataclasses import dataclass, field

import exifread
from PIL import ExifTags

from .sources import Source, open_source

#: Every kind the report can name, in the order it lists them.
KINDS = (
    "gps",
    "capture_time",
    "camera",
    "serial_numbers",
    "owner",
    "software",
    "place_names",
    "xmp",
    "iptc",
    "comments",
    "thumbnail",
    "icc_profile",
    "maker_notes",
)

# EXIF tag number -> kind (IFD0, the Exif IFD and Pillow's flattened views).
_EXIF_KINDS = {
    0x0132: "capture_time", 0x9003: "capture_time", 0x9004: "capture_time",
    0x010F: "camera", 0x0110: "camera", 0xA433: "camera", 0xA434: "camera",
    0xA431: "serial_numbers", 0xA435: "serial_numbers", 0xC62F: "serial_numbers",
    0xA420: "serial_numbers",  # ImageUniqueID: ties photos to one camera
    0x013B: "owner", 0x8298: "owner", 0xA430: "owner", 0x9C9D: "owner",
    0x0131: "software", 0x000B: "software", 0x013C: "software",
    0x010E: "comments", 0x9286: "comments", 0x9C9C: "comments", 0x9C9B: "comments",
    0x9C9E: "comments", 0x9C9F: "comments",
    0x927C: "maker_notes",
    0x02BC: "xmp", 0x83BB: "iptc",
}

# exifread tag name (after the "EXIF "/"Image " prefix) -> kind
_EXIFREAD_NAMES = {
    "DateTime": "capture_time", "DateTimeOriginal": "capture_time",
    "DateTimeDigitized": "capture_time",
    "Make": "camera", "Model": "camera", "LensMake": "camera", "LensModel": "camera",
    "BodySerialNumber": "serial_numbers", "LensSerialNumber": "serial_numbers",
    "CameraSerialNumber": "serial_numbers", "ImageUniqueID": "serial_numbers",
    "Artist": "owner", "Copyright": "owner", "CameraOwnerName": "owner", "XPAuthor": "owner",
    "Software": "software", "ProcessingSoftware": "software", "HostComputer": "software",
    "ImageDescription": "comments", "UserComment": "comments", "XPComment": "comments",
    "XPTitle": "comments", "XPKeywords": "comments", "XPSubject": "comments",
    "MakerNote": "maker_notes", "ApplicationNotes": "xmp", "IPTC/NAA": "iptc",
}

# XMP property (namespace prefix stripped) -> kind
_XMP_KINDS = {
    "GPSLatitude": "gps", "GPSLongitude": "gps", "GPSAltitude": "gps",
    "GPSDestLatitude": "gps", "GPSDestLongitude": "gps", "GPSAreaInformation": "gps",
    "CreateDate": "capture_time", "DateTimeOriginal": "capture_time",
    "DateCreated": "capture_time", "ModifyDate": "capture_time", "MetadataDate": "capture_time",
    "DateTimeDigitized": "capture_time",
    "Make": "camera", "Model": "camera", "Lens": "camera", "LensModel": "camera",
    "SerialNumber": "serial_numbers", "BodySerialNumber": "serial_numbers",
    "LensSerialNumber": "serial_numbers", "ImageUniqueID": "serial_numbers",
    "CameraSerialNumber": "serial_numbers",
    "creator": "owner", "rights": "owner", "Credit": "owner", "OwnerName": "owner",
    "CameraOwnerName": "owner", "AuthorsPosition": "owner", "Marked": "owner",
    "UsageTerms": "owner", "CreatorContactInfo": "owner", "Artist": "owner",
    "Copyright": "owner",
    "CreatorTool": "software", "Software": "software", "HistorySoftwareAgent": "software",
    "City": "place_names", "State": "place_names", "Country": "place_names",
    "Location": "place_names", "Sublocation": "place_names", "LocationCreated": "place_names",
    "LocationShown": "place_names", "CountryCode": "place_names",
    "description": "comments", "title": "comments", "UserComment": "comments",
    "subject": "comments", "Headline": "comments", "Instructions": "comments",
    "Thumbnails": "thumbnail",
}
_XMP_PROPERTY = re.compile(
    r"<(?P<el>[A-Za-z][\w.-]*):(?P<eln>[A-Za-z][\w.-]*)[\s>/]"
    r"|\s(?P<at>[A-Za-z][\w.-]*):(?P<atn>[A-Za-z][\w.-]*)\s*=\s*\"(?P<val>[^\"]*)\""
)

# IPTC IIM record 2 dataset -> kind
_IPTC_KINDS = {
    55: "capture_time", 60: "capture_time", 62: "capture_time", 63: "capture_time",
    80: "owner", 85: "owner", 110: "owner", 115: "owner", 116: "owner", 122: "owner",
    90: "place_names", 92: "place_names", 95: "place_names", 100: "place_names",
    101: "place_names", 26: "place_names",
    120: "comments", 105: "comments", 5: "comments", 25: "comments", 40: "comments",
    65: "software", 70: "software",
}

# PNG text keyword -> kind (anything else in a text chunk counts as a comment)
_PNG_TEXT_KINDS = {
    "author": "owner", "copyright": "owner", "creator": "owner", "artist": "owner",
    "software": "software", "creation time": "capture_time", "date": "capture_time",
    "xml:com.adobe.xmp": "xmp", "raw profile type iptc": "iptc",
    "raw profile type 8bim": "iptc", "raw profile type xmp": "xmp",
    "raw profile type exif": "comments", "raw profile type app1": "comments",
}

log = logging.getLogger(__name__)


@dataclass
class MetadataFindings:
    kinds: set[str] = field(default_factory=set)
    #: (kind, where, value) for the offline CLI's terminal only. Never store these.
    values: list[tuple[str, str, str]] = field(default_factory=list)
    #: True if some block could not be parsed (the file is cleaned all the same).
    unreadable: bool = False

    def add(self, kind: str, where: str, value: object = "") -> None:
        self.kinds.add(kind)
        text = _printable(value)
        # exifread and Pillow often read the same tag: show each value once.
        if text and all((k, v) != (kind, text) for k, _, v in self.values):
            self.values.append((kind, where, text))

    def kinds_report(self) -> dict[str, bool]:
        """{kind: found?} for every kind: safe to store, holds no values."""
        report = {kind: kind in self.kinds for kind in KINDS}
        if self.unreadable:
            report["unreadable_blocks"] = True
        return report


def _printable(value: object, limit: int = 120) -> str:
    if isinstance(value, bytes):
        value = value.decode("utf-8", "replace")
    text = " ".join(str(value).replace("\x00", " ").split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _blank(value: object) -> bool:
    """Cameras fill unused text tags with spaces or NULs (or a bare charset header)."""
    if value is None:
        return True
    if isinstance(value, bytes):
        value = value.replace(b"ASCII\x00\x00\x00", b"").replace(b"UNICODE\x00", b"")
        return not value.strip(b"\x00 \t\r\n")
    if isinstance(value, str):
        return not value.strip("\x00 \t\r\n")
    if isinstance(value, (tuple, list)):
        return len(value) == 0
    return False


def inspect_metadata(
    path: Source, fmt: str, info: dict, exif, text: dict | None = None
) -> MetadataFindings:
    """Find the kinds of identifying metadata in the file at ``path``.

    ``info`` is Pillow's ``im.info`` and ``exif`` its ``getexif()`` (or None if that
    failed), both taken from the original before cleaning; ``text`` the PNG text chunks.
    """
    found = MetadataFindings()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # odd files make the readers chatty; we just report
        _run_steps(path, fmt, info, exif, text or {}, found)
    return found


def describe(path: str) -> list[tuple[str, str, str]]:
    """(kind, where, value) for each identifying value in the file: for a terminal only.

    Reads the file again, independently of the pipeline, so that the pipeline's own
    results never carry a value. Returns [] for a file that cannot be opened.
    """
    from PIL import Image

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with Image.open(path) as im:
                im.load()
                info, text = dict(im.info), dict(getattr(im, "text", {}) or {})
                try:
                    exif = im.getexif()
                except Exception:  # noqa: BLE001 - a corrupt block: exifread may still read it
                    exif = None
                fmt = im.format or ""
    except Exception:  # noqa: BLE001 - the pipeline reports why the file is unusable
        return []
    return inspect_metadata(path, fmt, info, exif, text).values


def _run_steps(path: Source, fmt: str, info: dict, exif, text: dict,
               found: MetadataFindings) -> None:
    for step in (
        # exifread only where it is at home: on a crafted HEIC box it loops forever
        # (found in review); Pillow and pillow-heif read EXIF from the other formats.
        lambda: _from_exifread(path, found) if fmt in ("JPEG", "TIFF") else None,
        lambda: _from_pillow_exif(exif, found),
        lambda: _from_info(info, text, found),
        lambda: _from_jpeg_segments(path, found) if fmt == "JPEG" else None,
    ):
        try:
            step()
        except Exception as err:  # noqa: BLE001 - a hostile block must not stop the report
            log.debug("metadata step failed: %r", err)
            found.unreadable = True


def _from_exifread(path: Source, found: MetadataFindings) -> None:
    # exifread logs noisily about odd files; quiet it, and it's a best-effort report anyway.
    logging.getLogger("exifread").setLevel(logging.CRITICAL)
    with open_source(path) as fh:
        tags = exifread.process_file(
            fh, details=True, extract_thumbnail=True, truncate_tags=False
        )
    for key, value in tags.items():
        if key in ("JPEGThumbnail", "TIFFThumbnail"):
            found.add("thumbnail", key)
            continue
        group, _, name = key.partition(" ")
        raw = getattr(value, "values", value)
        if group == "GPS":
            if name != "GPSVersionID" and not _blank(raw):
                found.add("gps", key, value)
            continue
        if group == "Thumbnail" and name in ("JPEGInterchangeFormat", "StripOffsets"):
            found.add("thumbnail", key)
            continue
        if group == "MakerNote":
            found.add("maker_notes", key)
            lowered = name.lower()
            if "serial" in lowered:
                found.add("serial_numbers", key, value)
            elif "owner" in lowered or "artist" in lowered or "copyright" in lowered:
                found.add("owner", key, value)
            continue
        if name == "IPTC/NAA":
            _from_iptc(_iptc_bytes(raw), found)
            continue
        kind = _EXIFREAD_NAMES.get(name)
        if kind and group in ("Image", "EXIF", "Thumbnail") and not _blank(raw):
            found.add(kind, key, "" if kind in ("maker_notes", "xmp", "iptc") else value)


def _from_pillow_exif(exif, found: MetadataFindings) -> None:
    if exif is None:
        return
    for tag, value in exif.items():
        kind = _EXIF_KINDS.get(tag)
        if kind and not _blank(value):
            found.add(kind, f"EXIF 0x{tag:04x}", "" if kind in ("xmp", "iptc") else value)
    for tag, value in exif.get_ifd(0x8769).items():
        kind = _EXIF_KINDS.get(tag)
        if kind and not _blank(value):
            found.add(kind, f"EXIF 0x{tag:04x}", "" if kind == "maker_notes" else value)
    gps = exif.get_ifd(0x8825)
    for tag, value in gps.items():
        if tag != 0 and not _blank(value):  # 0 is GPSVersionID
            found.add("gps", f"GPS 0x{tag:02x}", value)
    ifd1 = exif.get_ifd(ExifTags.IFD.IFD1)
    if ifd1 and (0x0201 in ifd1 or 0x0111 in ifd1):
        found.add("thumbnail", "EXIF IFD1")
    if 0x8769 in exif and exif.get_ifd(0x8769).get(0x927C):
        found.add("maker_notes", "EXIF MakerNote")


def _iptc_bytes(values) -> bytes:
    """TIFF writers often store IPTC as LONGs, which readers decode in the file's byte
    order; pack them back in whichever order gives an IPTC stream (it starts 0x1C)."""
    if isinstance(values, (bytes, bytearray)):
        return bytes(values)
    ints = [values] if isinstance(values, int) else list(values)
    if all(isinstance(v, int) and 0 <= v < 256 for v in ints):
        return bytes(ints)
    for order in (">I", "<I"):
        data = b"".join(struct.pack(order, v & 0xFFFFFFFF) for v in ints)
        if data[:1] == b"\x1c":
            return data
    return b""


def _from_info(info: dict, text: dict, found: MetadataFindings) -> None:
    icc = info.get("icc_profile")
    if icc:
        found.add("icc_profile", "ICC profile")
    comment = info.get("comment")
    if comment and not _blank(comment):
        found.add("comments", "JPEG comment", comment)
    xmp = info.get("xmp") or info.get("XML:com.adobe.xmp")
    if xmp:
        _from_xmp(xmp, found)
    photoshop = info.get("photoshop")
    if isinstance(photoshop, dict):
        _from_photoshop(photoshop, found)
    if info.get("thumbnails"):  # pillow-heif lists HEIF thumbnail items here
        found.add("thumbnail", "HEIF thumbnail")
    if info.get("mp") or info.get("mpinfo"):  # MPF: extra preview images in the JPEG
        found.add("thumbnail", "MPF preview images")
    for key, value in text.items():
        lowered = key.lower()
        kind = _PNG_TEXT_KINDS.get(lowered, "comments")
        if kind == "xmp":
            _from_xmp(value, found)
        elif kind == "iptc":
            found.add("iptc", f"PNG text {key}")
        elif not _blank(value):
            found.add(kind, f"PNG text {key}", value)


def _from_xmp(xmp: bytes | str, found: MetadataFindings) -> None:
    found.add("xmp", "XMP")
    text = xmp.decode("utf-8", "replace") if isinstance(xmp, bytes) else str(xmp)
    for m in _XMP_PROPERTY.finditer(text):
        prefix = m.group("el") or m.group("at")
        name = m.group("eln") or m.group("atn")
        if prefix in ("xmlns", "rdf", "x", "xml"):
            continue
        kind = _XMP_KINDS.get(name)
        if kind is None and prefix in ("Iptc4xmpCore", "Iptc4xmpExt") and "Location" in name:
            kind = "place_names"
        if kind is None and prefix == "exif" and name.startswith("GPS") and name != "GPSVersionID":
            kind = "gps"
        if kind:
            value = m.group("val") if m.group("at") else _element_text(text, m.end())
            found.add(kind, f"XMP {prefix}:{name}", value)


def _element_text(text: str, start: int) -> str:
    """The text after an XMP element's start tag, up to the next tag (for display only)."""
    end = text.find("<", start)
    inner = text[start:end] if end != -1 else ""
    if not inner.strip():  # a container such as <dc:creator><rdf:Seq><rdf:li>...
        m = re.search(r"<rdf:li[^>]*>([^<]*)<", text[start : start + 2000])
        inner = m.group(1) if m else ""
    return inner.lstrip(">").strip()


def _from_photoshop(resources: dict, found: MetadataFindings) -> None:
    for rid, data in resources.items():
        if rid == 0x0404:
            _from_iptc(data, found)
        elif rid in (0x0409, 0x040C):
            found.add("thumbnail", "Photoshop thumbnail")
        elif rid == 0x0424:
            _from_xmp(data, found)
        elif rid in (0x0422, 0x0423):
            found.add("comments", "Photoshop EXIF copy")


def parse_iptc(data: bytes) -> list[tuple[int, int, bytes]]:
    """Split an IPTC-IIM block into (record, dataset, value) triples."""
    out, i = [], 0
    while i + 5 <= len(data):
        if data[i] != 0x1C:
            i += 1
            continue
        record, dataset = data[i + 1], data[i + 2]
        (length,) = struct.unpack(">H", data[i + 3 : i + 5])
        if length & 0x8000:  # extended length: not used for text; stop rather than guess
            break
        out.append((record, dataset, data[i + 5 : i + 5 + length]))
        i += 5 + length
    return out


def _from_iptc(data: bytes, found: MetadataFindings) -> None:
    found.add("iptc", "IPTC")
    for record, dataset, value in parse_iptc(data):
        kind = _IPTC_KINDS.get(dataset) if record == 2 else None
        if kind and not _blank(value):
            found.add(kind, f"IPTC 2:{dataset}", value)


def _from_jpeg_segments(path: Source, found: MetadataFindings) -> None:
    """Walk the JPEG's segments up to the image data, independently of Pillow."""
    with open_source(path) as fh:
        if fh.read(2) != b"\xff\xd8":
            return
        while True:
            marker = fh.read(2)
            if len(marker) < 2 or marker[0] != 0xFF:
                return
            code = marker[1]
            if code == 0xFF:  # fill byte
                fh.seek(-1, 1)
                continue
            if code == 0xDA or code == 0xD9:  # start of scan / end of image
                return
            if 0xD0 <= code <= 0xD7 or code == 0x01:
                continue
            raw = fh.read(2)
            if len(raw) < 2:
                return
            (length,) = struct.unpack(">H", raw)
            if length < 2:
                return
            body = fh.read(min(length - 2, 1 << 16))
            if code == 0xFE and not _blank(body):
                found.add("comments", "JPEG comment", body)
            elif code == 0xE1 and body.startswith(b"http://ns.adobe.com/xap/1.0/\x00"):
                _from_xmp(body[29:], found)
            elif code == 0xE1 and body.startswith(b"http://ns.adobe.com/xmp/extension/"):
                found.add("xmp", "Extended XMP")
            elif code == 0xED and body.startswith(b"Photoshop 3.0\x00"):
                _from_photoshop(_photoshop_resources(body[14:]), found)
            elif code == 0xE2 and body.startswith(b"ICC_PROFILE\x00"):
                found.add("icc_profile", "ICC profile")
            elif code == 0xE2 and body.startswith(b"MPF\x00"):
                found.add("thumbnail", "MPF preview images")
            elif code == 0xE2 and body.startswith(b"FPXR"):
                found.add("thumbnail", "FlashPix preview")


def _photoshop_resources(data: bytes) -> dict[int, bytes]:
    out, i = {}, 0
    while i + 12 <= len(data) and data[i : i + 4] == b"8BIM":
        (rid,) = struct.unpack(">H", data[i + 4 : i + 6])
        name_len = data[i + 6]
        j = i + 7 + name_len
        j += j % 2  # the name is padded to an even length
        if j + 4 > len(data):
            break
        (size,) = struct.unpack(">I", data[j : j + 4])
        out[rid] = data[j + 4 : j + 4 + size]
        i = j + 4 + size + (size % 2)
    return out
