"""Tests for services.photos: every picture here is drawn by tests/imagegen.py."""

import hashlib
import io
import warnings
from functools import cache

import pytest
from PIL import Image, ImageCms, ImageDraw, ImageFile

from services import photos
from services.photos import PhotoError
from tests import imagegen

RED, GREEN, CYAN = (255, 0, 0), (0, 255, 0), (0, 255, 255)


def near(pixel, colour, tolerance=40):
    """True when every channel of ``pixel`` is within ``tolerance`` of ``colour``."""
    return all(abs(a - b) <= tolerance for a, b in zip(pixel, colour, strict=True))


def opened(data):
    """Open encoded bytes and load them fully."""
    img = Image.open(io.BytesIO(data))
    img.load()
    return img


def refused(func, *args):
    """Call ``func`` expecting a PhotoError and return its code."""
    with pytest.raises(PhotoError) as caught:
        func(*args)
    assert str(caught.value.message)  # the lazy message renders
    return caught.value.code


@cache
def _luma_tables():
    tables = {}
    for quality in range(1, 101):
        bio = io.BytesIO()
        Image.new("RGB", (8, 8)).save(bio, "JPEG", quality=quality)
        tables.setdefault(tuple(opened(bio.getvalue()).quantization[0]), quality)
    return tables


def jpeg_quality(data):
    """The libjpeg quality setting that produced this file's luminance table."""
    return _luma_tables()[tuple(opened(data).quantization[0])]


def with_metadata(img, quality=95):
    """Encode ``img`` as a JPEG carrying EXIF, an ICC profile and a comment."""
    exif = Image.Exif()
    exif[0x010F] = "Test camera"
    exif[0x0112] = 1
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    bio = io.BytesIO()
    img.save(bio, "JPEG", quality=quality, exif=exif.tobytes(), icc_profile=icc, comment=b"secret")
    return bio.getvalue()


@pytest.fixture(scope="module")
def noisy():
    """A photo-like portrait with strong grain, larger than the master."""
    return imagegen.noisy_portrait(900, 1200, seed=7)


@pytest.fixture(scope="module")
def portrait_sets(noisy):
    """PortraitSets for a placeholder portrait and for the noisy photo."""
    return {
        "placeholder": photos.make_portrait_set(photos.placeholder_portrait(3)),
        "noisy": photos.make_portrait_set(noisy),
    }


# --- decoding: what goes in ---------------------------------------------------


@pytest.mark.parametrize("orientation", range(1, 9))
def test_exif_orientation_is_applied(orientation):
    data = imagegen.oriented_jpeg(orientation)
    assert photos.decode(data).size == (300, 400)
    master = opened(photos.make_portrait_set(data).master)
    assert master.size == (480, 640)
    assert near(master.getpixel((60, 80)), RED)
    assert near(master.getpixel((420, 560)), GREEN)
    assert near(master.getpixel((420, 80)), (0, 0, 255))


@pytest.mark.parametrize("orientation", [6, 8])
def test_big_rotated_camera_photo_is_upright(orientation):
    data = imagegen.oriented_jpeg(orientation, 2100, 2800)
    # Decoded at 1/4 scale: still covers 480×640 once upright.
    assert photos.decode(data, draft=lambda w, h: (480, 640)).size == (525, 700)
    master = opened(photos.make_portrait_set(data).master)
    assert near(master.getpixel((60, 80)), RED)
    assert near(master.getpixel((420, 560)), GREEN)


def test_cmyk_jpeg_becomes_rgb():
    img = photos.decode(imagegen.cmyk_jpeg(200, 300))
    assert img.mode == "RGB"
    assert near(img.getpixel((100, 50)), (255, 255, 255), 8)
    assert near(img.getpixel((100, 250)), CYAN, 8)


def test_png_alpha_is_composited_on_white():
    img = photos.decode(imagegen.png_rgba(200, 200))
    assert img.mode == "RGB"
    assert img.getpixel((5, 5)) == (255, 255, 255)
    assert img.getpixel((100, 100)) == (128, 0, 0)


def test_palette_png_with_transparency_is_white():
    img = Image.new("P", (40, 40), 0)
    img.putpalette([0, 0, 0, 200, 10, 10] + [0] * 762)
    ImageDraw.Draw(img).rectangle((10, 10, 29, 29), fill=1)
    bio = io.BytesIO()
    img.save(bio, "PNG", transparency=0)
    decoded = photos.decode(bio.getvalue())
    assert decoded.getpixel((0, 0)) == (255, 255, 255)
    assert decoded.getpixel((20, 20)) == (200, 10, 10)


def test_16_bit_grey_png_is_scaled_not_clipped():
    grey = Image.linear_gradient("L").convert("I").point(lambda v: v * 257).convert("I;16")
    bio = io.BytesIO()
    grey.save(bio, "PNG")
    img = photos.decode(bio.getvalue())
    assert near(img.getpixel((0, 10)), (10, 10, 10), 2)
    assert near(img.getpixel((0, 200)), (200, 200, 200), 2)


def test_mpo_counts_as_jpeg():
    bio = io.BytesIO()
    frames = [Image.new("RGB", (160, 200), RED), Image.new("RGB", (160, 200), GREEN)]
    frames[0].save(bio, "MPO", save_all=True, append_images=frames[1:])
    assert near(photos.decode(bio.getvalue()).getpixel((5, 5)), RED, 8)


def test_decoded_image_carries_no_metadata():
    img = photos.decode(with_metadata(Image.new("RGB", (200, 300), GREEN)))
    assert img.info == {}
    assert len(img.getexif()) == 0


@pytest.mark.parametrize("maker", [imagegen.gif, imagegen.bmp, imagegen.tiff])
def test_other_formats_are_unsupported(maker):
    data = maker(200, 300)
    assert refused(photos.decode, data) == "unsupported_format"
    assert refused(photos.make_portrait_set, data) == "unsupported_format"
    assert refused(photos.merge_id_images, data) == "unsupported_format"


def test_heic_from_iphone_asks_for_jpeg():
    heic = b"\x00\x00\x00\x18ftypheic\x00\x00\x00\x00mif1heic" + b"\x00" * 64
    with pytest.raises(PhotoError) as caught:
        photos.decode(heic)
    assert caught.value.code == "unsupported_format"
    assert "HEIC" in str(caught.value.message) and "JPEG" in str(caught.value.message)


def test_accepted_formats_can_be_narrowed():
    bio = io.BytesIO()
    Image.new("RGB", (200, 300)).save(bio, "PNG")
    assert refused(photos.decode, bio.getvalue(), {"JPEG"}) == "unsupported_format"


@pytest.mark.parametrize("side", [7000, 10000])  # warning path, then error path
def test_decompression_bomb_is_refused_before_allocating(side, monkeypatch):
    def no_load(self):
        raise AssertionError("pixels were decoded")

    monkeypatch.setattr(ImageFile.ImageFile, "load", no_load)
    filters = list(warnings.filters)
    data = imagegen.bomb_png(side)
    assert len(data) < 20_000
    assert refused(photos.decode, data) == "too_large_pixels"
    assert warnings.filters == filters
    assert Image.MAX_IMAGE_PIXELS == 40_000_000


def test_pixel_limit_holds_even_if_pillow_limit_is_raised(monkeypatch):
    monkeypatch.setattr(Image, "MAX_IMAGE_PIXELS", None)
    assert refused(photos.decode, imagegen.bomb_png(7000)) == "too_large_pixels"


def _cut(img, fmt):
    bio = io.BytesIO()
    img.save(bio, fmt)
    return bio.getvalue()[: len(bio.getvalue()) // 2]


def test_truncated_files_are_refused():
    photo = opened(imagegen.noisy_portrait(300, 400))
    assert refused(photos.decode, imagegen.truncated_jpeg()) == "truncated"
    assert refused(photos.decode, _cut(photo, "PNG")) == "truncated"
    assert refused(photos.decode, _cut(photo, "WEBP")) == "truncated"


def test_truncated_images_are_not_silently_padded(monkeypatch):
    monkeypatch.setattr(ImageFile, "LOAD_TRUNCATED_IMAGES", True)
    with pytest.raises(RuntimeError):
        photos.decode(imagegen.truncated_jpeg())


def test_text_named_jpg_and_empty_files():
    assert refused(photos.decode, imagegen.text_as_jpg()) == "not_image"
    assert refused(photos.decode, b"\xff\xd8\xff\xe0garbage") == "not_image"
    assert refused(photos.decode, b"") == "empty"
    assert refused(photos.make_portrait_set, b"") == "empty"


def test_photo_error_is_a_value_error():
    error = PhotoError("not_image")
    assert isinstance(error, ValueError)
    assert str(error) == "not_image"


@pytest.mark.parametrize("size", [(100, 150), (119, 400), (200, 150)])
def test_too_small_portraits(size):
    assert refused(photos.make_portrait_set, imagegen.jpeg(*size, RED)) == "too_small"


# --- portrait variants --------------------------------------------------------

VARIANTS = {  # name: (format, size, byte budget)
    "master": ("JPEG", (480, 640), None),
    "webp": ("WEBP", (240, 320), 12_000),
    "jpeg": ("JPEG", (240, 320), 32_000),
    "webp2x": ("WEBP", (480, 640), 20_000),
    "thumb": ("WEBP", (60, 80), 2_500),
}


@pytest.mark.parametrize("kind", ["placeholder", "noisy"])
@pytest.mark.parametrize("variant", VARIANTS)
def test_variant_sizes_and_budgets(portrait_sets, kind, variant):
    fmt, size, budget = VARIANTS[variant]
    data = getattr(portrait_sets[kind], variant)
    img = opened(data)
    assert (img.format, img.size, img.mode) == (fmt, size, "RGB")
    if budget:
        assert len(data) <= budget
    if fmt == "JPEG":
        assert "progressive" not in img.info and "progression" not in img.info


def test_webp_is_near_its_target_on_a_photo(portrait_sets):
    assert 5_000 < len(portrait_sets["noisy"].webp) <= 10_000


def test_master_quality_is_about_90(portrait_sets):
    assert jpeg_quality(portrait_sets["placeholder"].master) == 90


def test_outputs_carry_no_exif_or_icc():
    source = imagegen.noisy_portrait(600, 800, seed=2)
    data = with_metadata(opened(source))
    assert b"Exif\x00\x00" in data and b"ICC_PROFILE" in data
    result = photos.make_portrait_set(data)
    for variant in VARIANTS:
        encoded = getattr(result, variant)
        for marker in (b"Exif", b"EXIF", b"ICC_PROFILE", b"ICCP", b"XMP", b"secret"):
            assert marker not in encoded, (variant, marker)
        info = opened(encoded).info
        assert not {"exif", "icc_profile", "xmp", "comment"} & info.keys()


def test_same_input_same_hash_and_bytes(noisy, portrait_sets):
    again = photos.make_portrait_set(noisy)
    assert again == portrait_sets["noisy"]
    assert again.sha256 == hashlib.sha256(noisy).hexdigest()
    assert portrait_sets["placeholder"].sha256 != again.sha256


def test_noise_that_no_quality_can_fit_is_smoothed():
    result = photos.make_portrait_set(imagegen.static_png(480, 640))
    assert len(result.webp) <= 12_000 and len(result.webp2x) <= 20_000
    assert len(result.jpeg) <= 32_000 and len(result.thumb) <= 2_500


# --- ID-card pictures ---------------------------------------------------------


@pytest.fixture(scope="module")
def camera_pictures():
    """Two phone-camera-sized JPEGs of several MB each."""
    return imagegen.big_camera_jpeg(seed=1), imagegen.big_camera_jpeg(seed=2)


def test_merge_two_camera_pictures_fits_one_megabyte(camera_pictures):
    front, back = camera_pictures
    assert min(len(front), len(back)) > 3_000_000
    merged = photos.merge_id_images(front, back)
    img = opened(merged)
    assert len(merged) <= 1_000_000
    assert img.format == "JPEG" and img.mode == "RGB"
    assert img.width > img.height and max(img.size) <= 2 * 1600 + photos.ID_GAP
    assert "progressive" not in img.info and "exif" not in img.info
    assert b"Exif" not in merged


def test_merge_downscales_when_quality_alone_is_not_enough(camera_pictures):
    merged = photos.merge_id_images(*camera_pictures, max_bytes=60_000)
    assert len(merged) <= 60_000
    assert opened(merged).width < 2 * 1600


def test_merge_single_side_and_mixed_orientations():
    front = imagegen.oriented_jpeg(6, 1200, 1600)  # stored landscape, shown portrait
    back = imagegen.jpeg(1600, 1000, GREEN)
    img = opened(photos.merge_id_images(front, back))
    assert img.height == 1000  # both sides at the smaller common height
    assert near(img.getpixel((50, 50)), RED)  # front upright: red at its top-left
    assert near(img.getpixel((img.width - 50, 500)), GREEN)
    assert opened(photos.merge_id_images(front)).size == (1200, 1600)


def test_merge_refuses_bad_pictures():
    assert refused(photos.merge_id_images, imagegen.jpeg(800, 600, RED), b"") == "empty"
    assert refused(photos.merge_id_images, imagegen.text_as_jpg()) == "not_image"


# --- national export and compliance -------------------------------------------


@pytest.mark.parametrize("kind", ["placeholder", "noisy"])
def test_national_jpeg_is_20_to_40_kb_at_quality_60_or_more(portrait_sets, kind):
    data = photos.national_jpeg(portrait_sets[kind].master)
    img = opened(data)
    assert (img.format, img.size) == ("JPEG", (480, 640))
    assert 20 * 1024 <= len(data) <= 40_000
    assert jpeg_quality(data) >= 60


def test_national_jpeg_documented_exceptions():
    flat = photos.national_jpeg(imagegen.jpeg(480, 640, (100, 197, 255)))
    assert len(flat) < 20 * 1024 and jpeg_quality(flat) == 95
    busy = photos.national_jpeg(imagegen.static_png(480, 640))
    assert len(busy) > 40_000 and jpeg_quality(busy) == 60


@pytest.mark.parametrize("background", [(100, 197, 255), (255, 255, 255), (240, 240, 240)])
def test_compliant_placeholders(background):
    portrait = photos.placeholder_portrait(5, background=background)
    assert photos.compliance(portrait) == []
    assert photos.compliance(photos.make_portrait_set(portrait).master) == []


def test_compliance_flags_problems():
    red = photos.placeholder_portrait(5, background=(200, 30, 30))
    assert "background" in photos.compliance(red)
    square = photos.placeholder_portrait(5, size=(500, 500))
    assert "dimensions" in photos.compliance(square)
    flat = imagegen.jpeg(480, 640, (255, 255, 255))
    assert photos.compliance(flat) == ["file_size"]
    half = Image.open(io.BytesIO(photos.placeholder_portrait(5)))
    ImageDraw.Draw(half).rectangle((240, 0, 479, 100), fill=(255, 255, 255))
    bio = io.BytesIO()
    half.save(bio, "JPEG", quality=92)
    assert photos.compliance(bio.getvalue()) == ["background_uneven"]
    codes = {"dimensions", "file_size", "background", "background_uneven"}
    assert codes == set(photos.COMPLIANCE_REASONS)
    assert all(str(reason) for reason in photos.COMPLIANCE_REASONS.values())


def test_placeholder_is_deterministic_and_labelled():
    assert photos.placeholder_portrait(1) == photos.placeholder_portrait(1)
    assert photos.placeholder_portrait(1) != photos.placeholder_portrait(2)
    plain = opened(photos.placeholder_portrait(1, label=None))
    labelled = opened(photos.placeholder_portrait(1, label="2014 Demo"))
    assert plain.size == labelled.size == (480, 640)
    assert plain.tobytes() != labelled.tobytes()
    small = opened(photos.placeholder_portrait(1, background=(240, 240, 240), size=(120, 160)))
    assert small.size == (120, 160)
    assert near(small.getpixel((2, 2)), (240, 240, 240), 6)
