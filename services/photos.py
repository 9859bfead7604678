"""Graduation photos: derivatives, exports, checks.

Untrusted bytes are verified and decoded by ``services.photo_checks``
(``decode``, ``PhotoError`` and ``ACCEPTED_FORMATS`` are re-exported here).
This module crops portraits to 3:4 and encodes every variant within its
byte budget (services.image_budget), makes the JPEG for the national
registration and checks a master against the 2017 diploma-photo standard
(``recheck_compliance`` re-checks every stored photo). ID-card pictures are
merged by services.id_merge (``merge_id_images`` is re-exported here).
"""

from __future__ import annotations

import hashlib
import io
import math
import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from flask_babel import lazy_gettext as _l
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont, ImageOps, ImageStat

from models import Photo
from services import photostore
from services.id_merge import ID_GAP as ID_GAP
from services.id_merge import merge_id_images as merge_id_images
from services.image_budget import best_under, encode, fit_budget
from services.photo_checks import ACCEPTED_FORMATS as ACCEPTED_FORMATS
from services.photo_checks import WHITE, decode, too_small
from services.photo_checks import PhotoError as PhotoError

if TYPE_CHECKING:
    from peewee import ModelSelect

LANCZOS = Image.Resampling.LANCZOS
MASTER_SIZE = (480, 640)
DISPLAY_SIZE = (240, 320)
THUMB_SIZE = (60, 80)
# The staff records table: one line per row (480/12 × 640/12, rounded down).
MINI_SIZE = (40, 53)
MIN_PORTRAIT = (120, 160)
# Crop 40 % of the excess from the top and 60 % from the bottom: heads sit high.
CENTERING = (0.5, 0.4)

# Byte budgets use 1000-byte kilobytes, the stricter reading of "KB".
WEBP_TARGET = 10_000
WEBP_MAX = 12_000
JPEG_MAX = 32_000
WEBP2X_MAX = 20_000
THUMB_MAX = 2_500
MINI_MAX = 1_500

# The national site checks 20–40 KB; meet it under both readings of "KB".
NATIONAL_MIN = 20 * 1024
NATIONAL_MAX = 40_000
NATIONAL_QUALITY = (60, 95)

# Grain of the synthetic portrait: its national JPEG lands in 20–40 KB like a photo.
GRAIN = 6

LIGHT_BLUE = (100, 197, 255)
LIGHT_GREY = (240, 240, 240)
BACKGROUNDS = (LIGHT_BLUE, WHITE, LIGHT_GREY)
# A flat backdrop under studio light drifts by up to ~25 per channel (white
# balance, exposure), i.e. sqrt(3)·25 ≈ 43, and JPEG at q ≥ 60 moves a flat
# patch by a few more. 45 accepts that, while the nearest wrong colours staff
# actually see (mid grey 200, beige walls, darker blues) are 65+ away.
BACKGROUND_TOLERANCE = 45
# Corner medians further apart than this mean a shadow or a gradient.
CORNER_TOLERANCE = 30

COMPLIANCE_REASONS = {
    "dimensions": _l("The photo must be 480 × 640 pixels (width × height, 3:4)."),
    "file_size": _l("For the national registration, the photo must be a JPEG file of 20–40 KB."),
    "background": _l("The background must be light blue, white or light grey."),
    "background_uneven": _l(
        "The background must be one even colour: the two top corners of the photo differ."
    ),
}


@dataclass
class PortraitSet:
    """Every stored variant of one graduation photo (all bytes, no metadata)."""

    sha256: str  # of the original upload, for idempotent re-import
    master: bytes  # JPEG 480×640
    webp: bytes  # 240×320, ≤ WEBP_MAX
    jpeg: bytes  # 240×320 fallback, ≤ JPEG_MAX
    webp2x: bytes  # 480×640, ≤ WEBP2X_MAX
    thumb: bytes  # WebP 60×80, ≤ THUMB_MAX
    national: bytes = b""  # the national-registration JPEG (see national_jpeg)
    mini: bytes = b""  # WebP 40×53 for the staff records table, ≤ MINI_MAX


def _portrait_draft(width, height):
    return MASTER_SIZE


def make_portrait_set(data: bytes, centering: tuple[float, float] = CENTERING) -> PortraitSet:
    """Verify a graduation photo and make its master and display variants.

    Crops the upright picture to 3:4 (by default keeping more of the top;
    ``centering`` is ImageOps.fit's (x, y) in 0–1, as a staff member placed
    the crop), resizes with Lanczos and encodes each variant within its
    budget. Raises ``PhotoError`` (``too_small`` below 120×160, plus every
    ``decode`` code).
    """
    img = decode(data, draft=_portrait_draft)
    if img.width < MIN_PORTRAIT[0] or img.height < MIN_PORTRAIT[1]:
        raise too_small(*MIN_PORTRAIT)
    master = ImageOps.fit(img, MASTER_SIZE, method=LANCZOS, centering=centering)
    # Exact 2× and 8× reductions of the master: a box average is as sharp as
    # Lanczos at integer factors and several times faster.
    display = master.reduce(MASTER_SIZE[0] // DISPLAY_SIZE[0])
    thumb = master.reduce(MASTER_SIZE[0] // THUMB_SIZE[0])
    return PortraitSet(
        sha256=hashlib.sha256(data).hexdigest(),
        master=encode(master, "JPEG", 90, subsampling=0),
        webp=fit_budget(display, "WEBP", WEBP_TARGET, (30, 82)),
        jpeg=fit_budget(display, "JPEG", JPEG_MAX, (40, 85)),
        webp2x=fit_budget(master, "WEBP", WEBP2X_MAX, (25, 80)),
        thumb=fit_budget(thumb, "WEBP", THUMB_MAX, (30, 70)),
        # Made once here (compliance needs its size anyway) so the national
        # hand-off ZIP only copies files.
        national=_national_from(master),
        mini=_mini_from(master),
    )


def _mini_from(master):
    return fit_budget(master.resize(MINI_SIZE, LANCZOS, reducing_gap=3.0), "WEBP", MINI_MAX, (30, 70))


def mini_webp(master: bytes) -> bytes:
    """The 40×53 table thumbnail of a stored master (for photos stored before it existed)."""
    return _mini_from(decode(master))


def national_jpeg(master: bytes) -> bytes:
    """Return the 480×640 JPEG for the national registration (20–40 KB, q ≥ 60).

    Picks the highest quality from 60 to 95 (4:2:0 chroma) that stays within
    40 KB. Two documented exceptions, both reported by ``compliance``:
    a very plain picture may be under 20 KB even at q=95 — then q=95 with
    full 4:4:4 chroma and, failing that, with standard (unoptimised) Huffman
    tables is tried, and the largest result within 40 KB is returned; a very
    detailed picture may exceed 40 KB even at q=60 — then that q=60 file, the
    smallest one allowed, is returned. A master of another size is first
    cropped to 3:4 and resized to 480×640.
    """
    return _national_from(decode(master))


def _national_from(img):
    """national_jpeg() for an image that is already decoded."""
    if img.size != MASTER_SIZE:
        img = ImageOps.fit(img, MASTER_SIZE, method=LANCZOS, centering=CENTERING)
    lo, hi = NATIONAL_QUALITY
    data = best_under(img, "JPEG", NATIONAL_MAX, NATIONAL_QUALITY, subsampling=2)
    if data is None:
        return encode(img, "JPEG", lo, subsampling=2)
    for optimize in (True, False):
        if len(data) >= NATIONAL_MIN:
            break
        richer = encode(img, "JPEG", hi, subsampling=0, optimize=optimize)
        if len(data) < len(richer) <= NATIONAL_MAX:
            data = richer
    return data


def _corner_medians(img):
    patch = max(8, img.width // 24)  # 20 px on a 480-wide master
    inset = max(2, patch // 5)  # skip edge pixels JPEG and scanners smear
    boxes = (
        (inset, inset, inset + patch, inset + patch),
        (img.width - inset - patch, inset, img.width - inset, inset + patch),
    )
    return [tuple(ImageStat.Stat(img.crop(box)).median) for box in boxes]


def compliance(master: bytes, national: bytes | None = None) -> list[str]:
    """List how a photo breaks the 2017 diploma-photo standard ([] if it does not).

    Codes (see ``COMPLIANCE_REASONS``): ``dimensions`` (not 480×640),
    ``file_size`` (``national_jpeg(master)`` outside 20–40 KB), ``background``
    (a top corner is not light blue, white or light grey) and
    ``background_uneven`` (the two top corners differ). Raises ``PhotoError``
    when ``master`` is not a readable picture.
    """
    img = decode(master)
    problems = []
    if img.size != MASTER_SIZE:
        problems.append("dimensions")
    size = len(national) if national else len(_national_from(img))
    if not NATIONAL_MIN <= size <= NATIONAL_MAX:
        problems.append("file_size")
    left, right = _corner_medians(img)
    if any(min(math.dist(c, bg) for bg in BACKGROUNDS) > BACKGROUND_TOLERANCE for c in (left, right)):
        problems.append("background")
    if math.dist(left, right) > CORNER_TOLERANCE:
        problems.append("background_uneven")
    return problems


UNREADABLE = "unreadable"  # the compliance code of a photo whose master cannot be read


def recheck_compliance(
    query: ModelSelect[Photo] | None = None, progress: Callable[[int, int], None] | None = None
) -> dict[str, int]:
    """Re-run the photo standard check on every photo's master; store the codes.

    Returns {"checked": n, "problems": m}. A master that cannot be read is
    stored as "unreadable". One UPDATE per photo whose result changed.
    """
    query = query if query is not None else Photo.select(Photo.id, Photo.key, Photo.compliance)
    checked = flagged = 0
    total = query.count() if progress else 0
    for photo in query.order_by(Photo.id).iterator():
        if progress and checked % 50 == 0:
            progress(checked, total)
        try:
            try:
                national = photostore.read(photo.key, "national")
            except FileNotFoundError:
                national = None  # stored before the variant existed: compliance makes it
            codes = compliance(photostore.read(photo.key, "master"), national)
        except (FileNotFoundError, PhotoError):
            codes = [UNREADABLE]
        value = ",".join(codes)
        checked += 1
        flagged += bool(codes)
        if value != photo.compliance:
            Photo.update(compliance=value).where(Photo.id == photo.id).execute()
    return {"checked": checked, "problems": flagged}


def _add_grain(img, amplitude, rng, blur=1.0):
    """Return ``img`` with seeded ±``amplitude`` luminance grain, like film or sensor noise."""
    layer = Image.frombytes("L", img.size, rng.randbytes(img.width * img.height))
    # Blurring uniform noise narrows it; the ×3 stretch restores a visible grain.
    layer = layer.filter(ImageFilter.GaussianBlur(blur)).point(
        lambda v: max(0, min(2 * amplitude, (v - 128) * 3 + amplitude))
    )
    return ImageChops.add(img, Image.merge("RGB", (layer, layer, layer)), 1.0, -amplitude)


def placeholder_portrait(
    seed: int,
    background: tuple[int, int, int] = LIGHT_BLUE,
    size: tuple[int, int] = MASTER_SIZE,
    label: str | None = None,
) -> bytes:
    """Draw a synthetic, photo-like portrait and return it as JPEG bytes.

    Head, neck, hair and shoulders in seed-dependent colours, with film-like
    grain on the person so encoders and size checks behave as with a real
    photo; the plain ``background`` fills the top corners. ``label`` (ASCII:
    Pillow's default font has no CJK glyphs) is written on the clothes.
    """
    rng = random.Random(seed)
    w, h = size
    skin = (rng.randint(185, 240), rng.randint(145, 195), rng.randint(115, 165))
    hair = rng.choice([(25, 20, 18), (60, 40, 25), (90, 70, 50), (15, 15, 20)])
    cloth = (rng.randint(10, 90), rng.randint(10, 90), rng.randint(30, 130))
    img = Image.new("RGB", size, background)
    mask = Image.new("L", size, 0)
    for target, colours in ((img, (cloth, skin, hair)), (mask, (255, 255, 255))):
        draw = ImageDraw.Draw(target)
        draw.ellipse((w * 0.10, h * 0.72, w * 0.90, h * 1.30), fill=colours[0])
        draw.rectangle((w * 0.42, h * 0.52, w * 0.58, h * 0.78), fill=colours[1])
        draw.ellipse((w * 0.30, h * 0.18, w * 0.70, h * 0.62), fill=colours[1])
        draw.chord((w * 0.28, h * 0.13, w * 0.72, h * 0.48), 180, 360, fill=colours[2])
    draw = ImageDraw.Draw(img)
    for cx in (0.42, 0.58):
        draw.ellipse((w * (cx - 0.03), h * 0.37, w * (cx + 0.03), h * 0.40), fill=hair)
    draw.arc((w * 0.43, h * 0.47, w * 0.57, h * 0.55), 20, 160, fill=(150, 60, 60), width=max(1, w // 160))
    if label:
        font = ImageFont.load_default(size=max(10, h // 32))
        # textbbox rather than anchor="mm": the bitmap fallback font (Pillow
        # built without FreeType) supports no anchors.
        left, top, right, bottom = draw.textbbox((0, 0), label, font=font)
        draw.text(((w - right - left) / 2, h * 0.90 - (bottom + top) / 2), label, fill=WHITE, font=font)
    grainy = _add_grain(img, GRAIN, rng)
    img = Image.composite(grainy, img, mask.filter(ImageFilter.GaussianBlur(2)))
    bio = io.BytesIO()
    img.save(bio, "JPEG", quality=92)
    return bio.getvalue()
