"""Reading an admin form that carries an image (multipart): every part read with a cap,
the CSRF token checked before anything is decoded or stored.

The app's body limit (64 KiB, `server/app.py`) is for JSON and plain forms; these forms
are read part by part instead, a file up to `images.MAX_UPLOAD_BYTES` and each text field
up to `MAX_FIELD_BYTES`, and a body that says it is larger than the whole allowance is
refused before a byte of it is read.
"""

from __future__ import annotations

from dataclasses import dataclass

from aiohttp import BodyPartReader, web

from server.auth.csrf import FIELD, check_csrf
from server.clinic.images import MAX_UPLOAD_BYTES, too_large
from server.http.errors import ApiError

MAX_FIELD_BYTES = 4096
"""The longest text field of these forms (a bio of 500 characters fits many times)."""
MAX_PARTS = 12
"""The most parts a form may have (its fields and one file)."""
_CHUNK = 64 * 1024


@dataclass(frozen=True)
class ImageForm:
    """A posted form: its text fields, and the chosen file's bytes (None when none was)."""

    fields: dict[str, str]
    file: bytes | None


async def _read_capped(part: BodyPartReader, limit: int) -> bytes | None:
    """The part's bytes, or None past `limit` (read no further)."""
    data = bytearray()
    while chunk := await part.read_chunk(_CHUNK):
        data += chunk
        if len(data) > limit:
            return None
    return bytes(data)


async def read_image_form(request: web.Request, file_field: str) -> ImageForm:
    """Read a multipart form with one file field; raises `images.ImageRefused` (413) for a file
    too large, ApiError for a form that is not one (400, 415) or whose CSRF token is
    missing or wrong (403, as `require_csrf`)."""
    allowance = MAX_UPLOAD_BYTES + MAX_PARTS * MAX_FIELD_BYTES
    if request.content_length is not None and request.content_length > allowance:
        raise too_large()
    if request.content_type != "multipart/form-data":
        raise ApiError(415, "unsupported_media_type",
                       "This form must be sent as multipart/form-data.")
    fields: dict[str, str] = {}
    file: bytes | None = None
    try:
        reader = await request.multipart()
        for _ in range(MAX_PARTS + 1):
            part = await reader.next()
            if part is None:
                break
            if not isinstance(part, BodyPartReader):
                raise ApiError(400, "bad_form", "The form could not be read.")
            if part.name == file_field and part.filename is not None:
                data = await _read_capped(part, MAX_UPLOAD_BYTES)
                if data is None:
                    raise too_large()
                file = data or None  # no file chosen: an empty part
            elif part.name:
                raw = await _read_capped(part, MAX_FIELD_BYTES)
                if raw is None:
                    raise ApiError(413, "too_large", f"The field {part.name!r} is too long.")
                fields[part.name] = raw.decode("utf-8", errors="replace")
        else:
            raise ApiError(400, "bad_form", "The form has too many fields.")
    except (ValueError, AssertionError, UnicodeError):
        raise ApiError(400, "bad_form", "The form could not be read.") from None
    check_csrf(request, fields.get(FIELD))
    return ImageForm(fields, file)
