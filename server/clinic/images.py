"""The clinic's logo and the therapists' photos: checked by decoding, stripped of their
metadata and resized on the server, off the event loop (Pillow).

Only PNG, JPEG and WebP are read, whatever the file's name or the browser's type; the
upload's size is capped before anything is decoded (`upload.py`), and its pixel count
from the header before the pixels are (a small file can claim a huge image). What is
stored is a new image made from the pixels alone: no EXIF (a phone photo's GPS), no
comments, no colour profile, turned upright first by its EXIF orientation.
"""

from __future__ import annotations

import io
import warnings
from dataclasses import dataclass

from PIL import Image, ImageOps

MAX_UPLOAD_BYTES = 5 * 1024 * 1024
"""The largest image file accepted (413 above it)."""
MAX_PIXELS = 25_000_000
"""The most pixels a file may declare (a 24-megapixel camera photo passes); its decoded
RGBA pixels take at most 100 MB of one helper thread's memory."""
ACCEPTED_FORMATS = ("PNG", "JPEG", "WEBP")
LOGO_BOX = (480, 160)
"""A logo is shrunk to fit this box (never enlarged); pages show it at most 40 px high."""
PHOTO_SIDE = 256
"""A therapist's photo is cropped to a centred square and scaled to this side."""


class ImageRefused(Exception):
    """The upload is not an image this server takes; `message` says why, for the admin."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.message = message
        self.status = status


@dataclass(frozen=True)
class StoredImage:
    """An image as stored and served: the re-encoded bytes and what they are."""

    data: bytes
    content_type: str
    width: int
    height: int


def too_large() -> ImageRefused:
    """The refusal of a file over `MAX_UPLOAD_BYTES` (413)."""
    return ImageRefused(f"The image is larger than {MAX_UPLOAD_BYTES // (1024 * 1024)} MB.",
                        413)


def _open(data: bytes) -> Image.Image:
    if len(data) > MAX_UPLOAD_BYTES:
        raise too_large()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            image = Image.open(io.BytesIO(data), formats=ACCEPTED_FORMATS)
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombWarning,
            Image.DecompressionBombError):
        raise ImageRefused("This file is not a PNG, JPEG or WebP image.") from None
    width, height = image.size
    if width < 1 or height < 1 or width * height > MAX_PIXELS:
        raise ImageRefused(f"The image is {width}×{height} pixels; it may have at most "
                           f"{MAX_PIXELS // 1_000_000} million.")
    return image


_ORIENTATION_TAG = 0x0112
_ORIENTATION_TURNS = {
    2: Image.Transpose.FLIP_LEFT_RIGHT, 3: Image.Transpose.ROTATE_180,
    4: Image.Transpose.FLIP_TOP_BOTTOM, 5: Image.Transpose.TRANSPOSE,
    6: Image.Transpose.ROTATE_270, 7: Image.Transpose.TRANSVERSE, 8: Image.Transpose.ROTATE_90,
}
"""How to turn an image upright for each EXIF orientation (as Pillow's exif_transpose)."""


def _orientation(image: Image.Image) -> int:
    # Read here rather than through ImageOps.exif_transpose, which also parses the rest of
    # the EXIF and fails on damaged maker data that phones write; the EXIF is dropped anyway.
    try:
        value = image.getexif().get(_ORIENTATION_TAG, 1)
    except Exception:  # any damage to the EXIF: the picture is taken as it stands
        return 1
    return value if isinstance(value, int) else 1


def _pixels(image: Image.Image, box: tuple[int, int]) -> Image.Image:
    """The decoded, upright image in RGB or RGBA, at most about twice `box` (a JPEG is
    decoded at a reduced scale where it can be)."""
    if image.format == "JPEG":
        image.draft("RGB", (box[0] * 2, box[1] * 2))
    turn = _ORIENTATION_TURNS.get(_orientation(image))
    try:
        image.load()
        upright = image.transpose(turn) if turn is not None else image
    except (OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        raise ImageRefused("This image is damaged or incomplete; save it again and "
                           "upload the new file.") from None
    has_alpha = upright.mode in ("RGBA", "LA", "PA") or "transparency" in upright.info
    return upright.convert("RGBA" if has_alpha else "RGB")


def _clean(image: Image.Image) -> Image.Image:
    # A new image from the pixels alone: nothing of the file's info (EXIF, ICC, text) left.
    return Image.frombytes(image.mode, image.size, image.tobytes())


def _encode(image: Image.Image, form: str) -> StoredImage:
    out = io.BytesIO()
    if form == "WEBP":
        image.save(out, "WEBP", quality=85, method=4)
    else:
        image.save(out, "PNG", optimize=True)
    return StoredImage(out.getvalue(), f"image/{form.lower()}", image.width, image.height)


def logo_image(data: bytes) -> StoredImage:
    """A logo upload as stored: fitted into `LOGO_BOX`, transparency kept, PNG."""
    image = _pixels(_open(data), LOGO_BOX)
    image.thumbnail(LOGO_BOX, Image.Resampling.LANCZOS)
    return _encode(_clean(image), "PNG")


def photo_image(data: bytes) -> StoredImage:
    """A therapist's photo as stored: a centred square of `PHOTO_SIDE`, RGB, WebP."""
    image = _pixels(_open(data), (PHOTO_SIDE, PHOTO_SIDE))
    square = ImageOps.fit(image.convert("RGB"), (PHOTO_SIDE, PHOTO_SIDE),
                          Image.Resampling.LANCZOS)
    return _encode(_clean(square), "WEBP")
