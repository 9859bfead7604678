"""One JPEG of an ID card's two sides, merged from the student's phone pictures.

services.idimages stores the result; services.photos re-exports
`merge_id_images` for the callers that know it from there.
"""

import math
from collections.abc import Callable

from PIL import Image

from services.image_budget import best_under
from services.photo_checks import WHITE, decode

LANCZOS = Image.Resampling.LANCZOS
ID_MAX_SIDE = 1600
ID_GAP = 24
ID_QUALITY = (50, 85)


def _id_draft(width, height):
    scale = min(1.0, ID_MAX_SIDE / max(width, height))
    return max(1, math.ceil(width * scale)), max(1, math.ceil(height * scale))


def _scaled(img, size):
    return img if img.size == size else img.resize(size, LANCZOS, reducing_gap=3.0)


def merge_id_images(
    front: bytes,
    back: bytes | None = None,
    max_bytes: int = 1_000_000,
    limits: Callable[[int, int], None] | None = None,
    check: Callable[[Image.Image], None] | None = None,
) -> bytes:
    """Merge phone pictures of an ID card's sides into one JPEG of ≤ ``max_bytes``.

    Each side is verified like any upload (``PhotoError`` on failure),
    oriented, shrunk to a longer side of at most 1600 px and placed side by
    side on white at a common height. The baseline JPEG loses quality first
    (down to 50) and then pixels until it fits; it carries no metadata.
    ``limits`` goes to ``decode`` (a size check before decoding), ``check``
    sees each decoded side (services.idimages refuses grey-padded ones).
    """
    sides = [decode(side, draft=_id_draft, limits=limits) for side in (front, back) if side is not None]
    if check is not None:
        for img in sides:
            check(img)
    sides = [_scaled(img, _id_draft(*img.size)) for img in sides]
    height = min(img.height for img in sides)
    sides = [_scaled(img, (max(1, round(img.width * height / img.height)), height)) for img in sides]
    canvas = Image.new("RGB", (sum(img.width for img in sides) + ID_GAP * (len(sides) - 1), height), WHITE)
    x = 0
    for img in sides:
        canvas.paste(img, (x, 0))
        x += img.width + ID_GAP
    while True:
        data = best_under(canvas, "JPEG", max_bytes, ID_QUALITY)
        if data is not None:
            return data
        if max(canvas.size) <= 64:
            raise ValueError(f"cannot fit an ID picture into {max_bytes} bytes")
        canvas = canvas.resize((max(1, canvas.width * 3 // 4), max(1, canvas.height * 3 // 4)), LANCZOS)
