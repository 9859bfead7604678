"""Verify untrusted picture bytes and decode them into a clean RGB image.

Everything a student or an import ZIP sends passes through ``decode``: it
refuses what is not a supported, complete, reasonably sized picture (as a
``PhotoError`` with a machine code and a translatable message), applies the
EXIF orientation and returns plain RGB pixels with no metadata attached.
``services.photos`` re-exports these names; import them from there.
"""

import io
import struct
import threading
import warnings
import zlib
from collections.abc import Callable
from functools import cache

from flask_babel import lazy_gettext as _l
from PIL import Image, ImageCms, ImageFile, ImageOps, UnidentifiedImageError, features

MAX_PIXELS = 40_000_000
Image.MAX_IMAGE_PIXELS = MAX_PIXELS

ACCEPTED_FORMATS = frozenset({"JPEG", "PNG", "WEBP"})

WHITE = (255, 255, 255)

_WARNINGS_LOCK = threading.Lock()

# Pillow turns most parser failures into UnidentifiedImageError, but decoders
# and metadata parsers can still raise these on hostile input.
_DECODER_ERRORS = (
    OSError,
    ValueError,
    SyntaxError,
    EOFError,
    IndexError,
    KeyError,
    TypeError,
    struct.error,
    zlib.error,
    ZeroDivisionError,
)

_MESSAGES = {
    "empty": _l("The file is empty. Please choose the picture again."),
    "not_image": _l("This file is not a picture we can read. Please send a JPEG photo."),
    "too_large_pixels": _l(
        "This picture has too many pixels (at most 40 million). Please send a smaller photo."
    ),
    "truncated": _l("This picture is incomplete: the file or the upload was cut off. Please send it again."),
}


class PhotoError(ValueError):
    """A picture was refused; ``code`` is machine-readable, ``message`` is for people."""

    def __init__(self, code, message=None):
        """Build the error; ``message`` defaults to the standard text for ``code``."""
        super().__init__(code)
        self.code = code
        self.message = message if message is not None else _MESSAGES[code]


def unsupported_format(name):
    """Return the PhotoError for a picture in a format the portal does not take."""
    return PhotoError(
        "unsupported_format",
        _l(
            "Pictures in %(format)s format are not accepted. Please send a JPEG photo "
            "(on a phone, set the camera format to JPEG or “Most Compatible”).",
            format=name,
        ),
    )


def too_small(width, height):
    """Return the PhotoError for a picture below ``width``×``height`` pixels."""
    return PhotoError(
        "too_small",
        _l(
            "This picture is too small: it needs at least %(width)d×%(height)d pixels.",
            width=width,
            height=height,
        ),
    )


_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}
_BMP_HEADER_SIZES = {12, 40, 52, 56, 64, 108, 124}


def sniff_format(data):
    """Name the picture format from its magic bytes, or None if unknown.

    Lets us say "GIF is not accepted" (or "HEIC", which Pillow cannot even
    open) without running the parser of a format we refuse.
    """
    head = bytes(data[:32])
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return "WEBP"
    if head[:6] in (b"GIF87a", b"GIF89a"):
        return "GIF"
    if head[:4] in (b"II*\x00", b"MM\x00*"):
        return "TIFF"
    if head[:2] == b"BM" and int.from_bytes(head[14:18], "little") in _BMP_HEADER_SIZES:
        return "BMP"
    if head[4:8] == b"ftyp":
        if head[8:12] in _HEIF_BRANDS:
            return "HEIC"
        if head[8:12] in (b"avif", b"avis"):
            return "AVIF"
    if head.startswith((b"\xff\x0a", b"\x00\x00\x00\x0cJXL ")):
        return "JPEG XL"
    if head.startswith((b"\x00\x00\x00\x0cjP  ", b"\xff\x4f\xff\x51")):
        return "JPEG 2000"
    if head.startswith(b"8BPS"):
        return "PSD"
    return None


def _riff_truncated(data):
    declared = struct.unpack("<I", bytes(data[4:8]))[0] + 8 if len(data) >= 8 else 0
    return len(data) < declared


def _open_checked(data, accepted):
    """Open (header only) and check format and pixel count; no pixels decoded."""
    if not data:
        raise PhotoError("empty")
    sniffed = sniff_format(data)
    if sniffed is not None and sniffed not in accepted:
        raise unsupported_format(sniffed)
    try:
        img = Image.open(io.BytesIO(data), formats=tuple(sorted(accepted)))
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise PhotoError("too_large_pixels") from None
    except (UnidentifiedImageError, *_DECODER_ERRORS):
        # libwebp refuses a cut-off file already at open time.
        if sniffed == "WEBP" and _riff_truncated(data):
            raise PhotoError("truncated") from None
        raise PhotoError("not_image") from None
    fmt = "JPEG" if img.format == "MPO" else img.format  # MPO: multi-picture JPEG
    if fmt not in accepted:
        raise unsupported_format(fmt)
    width, height = img.size
    if width * height > MAX_PIXELS:  # even if someone raised Pillow's limit
        raise PhotoError("too_large_pixels")
    if width < 1 or height < 1:
        raise PhotoError("not_image")
    return img


def _orientation_swaps_axes(img):
    try:
        return img.getexif().get(0x0112, 1) in (5, 6, 7, 8)
    except _DECODER_ERRORS:
        return False


def decode(
    data: bytes,
    accepted=ACCEPTED_FORMATS,
    *,
    draft: Callable[[int, int], tuple[int, int]] | None = None,
    limits: Callable[[int, int], None] | None = None,
) -> Image.Image:
    """Verify ``data`` and return it as an upright RGB image with no metadata.

    Raises ``PhotoError`` with code ``empty``, ``not_image``,
    ``unsupported_format``, ``too_large_pixels`` or ``truncated``. Alpha is
    composited on white; CMYK, palette, grey and 16-bit pictures become 8-bit
    RGB (through the embedded ICC profile when there is one). ``accepted``
    names the Pillow formats allowed (an MPO camera file counts as JPEG).

    ``draft``, if given, maps the upright (width, height) to the smallest
    upright size the caller needs; a JPEG is then decoded at 1/2, 1/4 or 1/8
    scale when that still covers it, which is several times faster for camera
    photos that are going to be shrunk anyway.

    ``limits``, if given, is called with the stored (width, height) read from
    the header, before any pixel is decoded; it raises ``PhotoError`` to
    refuse a picture by its size (see services.idimages).
    """
    if ImageFile.LOAD_TRUNCATED_IMAGES:
        # Pillow would pad a cut-off file with grey instead of failing.
        raise RuntimeError("PIL.ImageFile.LOAD_TRUNCATED_IMAGES must stay False")
    # catch_warnings() swaps the process-wide filter list and restores it on
    # exit, so two threads inside it at once can leave the filter behind; the
    # lock keeps our own calls from overlapping. Only open() runs the bomb check
    # for the accepted formats, so the lock covers header parsing only.
    with _WARNINGS_LOCK, warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        img = _open_checked(data, accepted)
    with img:
        if limits is not None:
            limits(*img.size)
        if draft is not None and img.format in ("JPEG", "MPO"):
            swap = _orientation_swaps_axes(img)
            width, height = img.size[::-1] if swap else img.size
            need = draft(width, height)
            img.draft(None, need[::-1] if swap else need)
        try:
            img.load()
        except Image.DecompressionBombError:
            raise PhotoError("too_large_pixels") from None
        except _DECODER_ERRORS as exc:
            code = "truncated" if "truncated" in str(exc) else "not_image"
            raise PhotoError(code) from None
        return _clean_rgb(img)


def _clean_rgb(img):
    icc = img.info.get("icc_profile")
    try:
        upright = ImageOps.exif_transpose(img)
    except _DECODER_ERRORS:
        upright = img.copy()  # unreadable EXIF: keep the pixels as stored
    if upright.mode.startswith("I;16") or upright.mode == "I":
        # convert("L") would clip every 16-bit value above 255 to white.
        upright = upright.convert("I").point(lambda v: v * (1 / 256)).convert("L")
    has_alpha = upright.mode in ("RGBA", "LA", "PA", "RGBa", "La") or ("transparency" in upright.info)
    if has_alpha:
        rgba = upright.convert("RGBA")
        rgb = Image.new("RGB", rgba.size, WHITE)
        rgb.paste(rgba, mask=rgba.getchannel("A"))
        upright = rgb
    out = _to_srgb(upright, icc) if icc else None
    if out is None:
        out = upright.convert("RGB")
    out.info = {}
    return out


@cache
def _srgb_profile():
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB"))


def _to_srgb(img, icc):
    """Convert through the embedded ICC profile; None when it cannot or need not."""
    if img.mode not in ("RGB", "CMYK", "L") or not features.check("littlecms2"):
        return None
    try:
        profile = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        if img.mode == "RGB" and "srgb" in ImageCms.getProfileDescription(profile).lower():
            return None  # already sRGB: skip a costly near-identity transform
        return ImageCms.profileToProfile(img, profile, _srgb_profile(), outputMode="RGB")
    except (ImageCms.PyCMSError, *_DECODER_ERRORS):
        return None
