"""Synthetic test images drawn with Pillow, returned as encoded bytes.

Everything here is deterministic (noise comes from a seeded ``random.Random``)
so tests and benchmarks see the same bytes on every run.
"""

import io
import random
import struct
import zlib

from PIL import Image, ImageChops, ImageDraw, ImageFilter

# Transform that turns an upright picture into what a camera stores for a
# given EXIF Orientation; the viewer (exif_transpose) undoes it.
_STORE_FOR_ORIENTATION = {
    2: Image.Transpose.FLIP_LEFT_RIGHT,
    3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM,
    5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_90,
    7: Image.Transpose.TRANSVERSE,
    8: Image.Transpose.ROTATE_270,
}

ORIENTATION_TAG = 0x0112


def _encode(img, fmt, **params):
    bio = io.BytesIO()
    img.save(bio, fmt, **params)
    return bio.getvalue()


def _exif_with_orientation(orientation):
    exif = Image.Exif()
    exif[ORIENTATION_TAG] = orientation
    exif[0x010F] = "GradProof test camera"  # Make: proves metadata is stripped
    return exif.tobytes()


def noise(w, h, amplitude, seed=0, blur=0.0):
    """Return an RGB image of luminance noise centred on 0 (stored +amplitude).

    Add it to a picture with ``add_noise``; ``blur`` > 0 correlates
    neighbouring pixels, which looks more like sensor noise and film grain.
    """
    rng = random.Random(seed)
    layer = Image.frombytes("L", (w, h), rng.randbytes(w * h))
    if blur:
        # Blurring uniform noise shrinks its spread; stretch it back.
        layer = layer.filter(ImageFilter.GaussianBlur(blur))
        layer = layer.point(lambda v: max(0, min(255, (v - 128) * 3 + 128)))
    layer = layer.point(lambda v: v * 2 * amplitude // 255)
    return Image.merge("RGB", (layer, layer, layer))


def add_noise(img, amplitude, seed=0, blur=0.0):
    """Return ``img`` (RGB) with ±amplitude luminance noise added."""
    return ImageChops.add(img, noise(*img.size, amplitude, seed=seed, blur=blur), 1.0, -amplitude)


def jpeg(w, h, color, exif_orientation=None, quality=90):
    """Return a solid-colour JPEG, optionally tagged with an EXIF Orientation."""
    img = Image.new("RGB", (w, h), color)
    params = {"quality": quality}
    if exif_orientation is not None:
        params["exif"] = _exif_with_orientation(exif_orientation)
    return _encode(img, "JPEG", **params)


def asymmetric(w=300, h=400):
    """Return an upright RGB picture: blue, red top-left, green bottom-right."""
    img = Image.new("RGB", (w, h), (0, 0, 255))
    draw = ImageDraw.Draw(img)
    draw.rectangle((0, 0, w // 2 - 1, h // 2 - 1), fill=(255, 0, 0))
    draw.rectangle((w // 2, h // 2, w - 1, h - 1), fill=(0, 255, 0))
    return img


def oriented_jpeg(orientation, w=300, h=400):
    """Return a JPEG whose pixels are stored rotated/flipped for ``orientation``.

    Shown correctly (EXIF honoured) it is ``asymmetric(w, h)``; shown with the
    tag ignored, the red and green corners are elsewhere.
    """
    img = asymmetric(w, h)
    if orientation in _STORE_FOR_ORIENTATION:
        img = img.transpose(_STORE_FOR_ORIENTATION[orientation])
    return _encode(img, "JPEG", quality=95, exif=_exif_with_orientation(orientation))


def png_rgba(w, h):
    """Return a PNG that is transparent except for an opaque dark-red disc.

    Transparent pixels store RGB 0,0,0, so a naive RGBA→RGB gives black.
    """
    img = Image.new("RGBA", (w, h), (0, 0, 0, 0))
    ImageDraw.Draw(img).ellipse((w // 4, h // 4, w * 3 // 4, h * 3 // 4), fill=(128, 0, 0, 255))
    return _encode(img, "PNG")


def cmyk_jpeg(w, h):
    """Return a CMYK JPEG: white (no ink) with a pure-cyan bottom half."""
    img = Image.new("CMYK", (w, h), (0, 0, 0, 0))
    ImageDraw.Draw(img).rectangle((0, h // 2, w - 1, h - 1), fill=(255, 0, 0, 0))
    return _encode(img, "JPEG", quality=95)


def gif(w, h):
    """Return a small GIF (a format the portal refuses)."""
    return _encode(Image.new("P", (w, h), 1), "GIF")


def bmp(w, h):
    """Return a small BMP (a format the portal refuses)."""
    return _encode(Image.new("RGB", (w, h), (10, 20, 30)), "BMP")


def tiff(w, h):
    """Return a small TIFF (a format the portal refuses)."""
    return _encode(Image.new("RGB", (w, h), (10, 20, 30)), "TIFF")


def truncated_jpeg(w=400, h=300):
    """Return a noisy JPEG cut off in the middle of its entropy-coded data."""
    data = _encode(add_noise(Image.new("RGB", (w, h), (128, 128, 128)), 60), "JPEG")
    return data[: len(data) * 2 // 3]


def text_as_jpg():
    """Return plain text, as if someone renamed notes.txt to photo.jpg."""
    return b"This is not a picture.\nJust some notes saved as photo.jpg.\n" * 4


def bomb_png(side=7000):
    """Return a tiny PNG that declares side×side 1-bit pixels (49 Mpx by default).

    Built by hand so that making it never allocates the pixels either.
    """

    def chunk(kind, payload):
        body = kind + payload
        return struct.pack(">I", len(payload)) + body + struct.pack(">I", zlib.crc32(body))

    ihdr = struct.pack(">IIBBBBB", side, side, 1, 0, 0, 0, 0)  # 1-bit grey
    row = b"\x00" + b"\x00" * ((side + 7) // 8)  # filter type 0, all black
    compressor = zlib.compressobj(9)
    idat = b"".join(compressor.compress(row) for _ in range(side)) + compressor.flush()
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def static_png(w, h, seed=0):
    """Return a PNG of full-colour random static: the worst case for any encoder."""
    rng = random.Random(seed)
    return _encode(Image.frombytes("RGB", (w, h), rng.randbytes(w * h * 3)), "PNG")


def noisy_portrait(w=600, h=800, seed=0, background=(100, 197, 255)):
    """Return a photo-like portrait JPEG: plain background, textured subject.

    The background keeps only faint noise (as a studio backdrop does), while
    face, hair and clothes get strong grain and gradients so that encoders
    have real work to do.
    """
    rng = random.Random(seed)
    img = Image.new("RGB", (w, h), background)
    draw = ImageDraw.Draw(img)
    skin = (rng.randint(190, 235), rng.randint(150, 190), rng.randint(120, 160))
    cloth = (rng.randint(10, 80), rng.randint(10, 80), rng.randint(40, 120))
    draw.ellipse((w * 0.12, h * 0.70, w * 0.88, h * 1.25), fill=cloth)
    draw.rectangle((w * 0.43, h * 0.55, w * 0.57, h * 0.75), fill=skin)
    draw.ellipse((w * 0.30, h * 0.16, w * 0.70, h * 0.62), fill=skin)
    draw.chord((w * 0.28, h * 0.12, w * 0.72, h * 0.50), 180, 360, fill=(30, 20, 15))
    for dx in (0.42, 0.58):
        draw.ellipse((w * (dx - 0.03), h * 0.36, w * (dx + 0.03), h * 0.39), fill=(40, 30, 30))
    draw.arc((w * 0.43, h * 0.46, w * 0.57, h * 0.54), 20, 160, fill=(150, 60, 60), width=3)
    mask = Image.new("L", (w, h), 0)
    mask_draw = ImageDraw.Draw(mask)
    mask_draw.ellipse((w * 0.10, h * 0.10, w * 0.90, h * 1.3), fill=255)
    textured = add_noise(img, 28, seed=seed + 1, blur=0.8)
    faint = add_noise(img, 3, seed=seed + 2)
    out = Image.composite(textured, faint, mask.filter(ImageFilter.GaussianBlur(6)))
    return _encode(out, "JPEG", quality=92)


def big_camera_jpeg(w=4000, h=3000, seed=0):
    """Return a phone-camera-sized JPEG (several MB) of a noisy ID-card scene."""
    img = Image.new("RGB", (w, h), (200, 190, 170))
    draw = ImageDraw.Draw(img)
    draw.rounded_rectangle((w * 0.1, h * 0.15, w * 0.9, h * 0.85), radius=w // 40, fill=(230, 235, 240))
    for i in range(8):
        y = h * (0.25 + i * 0.07)
        draw.rectangle((w * 0.15, y, w * 0.6, y + h * 0.03), fill=(60, 60, 70))
    draw.rectangle((w * 0.65, h * 0.25, w * 0.85, h * 0.75), fill=(150, 170, 200))
    return _encode(add_noise(img, 24, seed=seed), "JPEG", quality=95)
