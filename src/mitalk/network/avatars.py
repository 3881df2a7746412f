"""Avatar images: check that an upload really is a JPEG, PNG or WebP, then re-encode it.

Nothing of the uploaded file is kept: it is decoded (with byte and pixel limits against
decompression bombs), turned upright by its EXIF orientation, cropped to a centred square,
resized to 256x256 and encoded anew as WebP, so no metadata (EXIF, GPS, comments, colour
profiles) and no bytes an attacker chose survive.
"""

from __future__ import annotations

import hashlib
import io
import warnings

from PIL import Image, ImageOps, UnidentifiedImageError

from mitalk.core.errors import AppError

MAX_BYTES = 5 * 1024 * 1024
MAX_PIXELS = 25_000_000  # 5000x5000; a bigger picture is not a portrait, and may be a bomb
SIZE = 256
FORMATS = {"JPEG", "PNG", "WEBP"}
CONTENT_TYPE = "image/webp"


class AvatarTooLarge(AppError):
    status, code = 413, "avatar_too_large"
    message = f"An avatar may be at most {MAX_BYTES // (1024 * 1024)} MB."


class AvatarTooManyPixels(AppError):
    status, code = 413, "avatar_too_many_pixels"
    message = f"An avatar may have at most {MAX_PIXELS:,} pixels (e.g. 5000x5000)."


class UnsupportedImage(AppError):
    status, code = 415, "unsupported_image"
    message = "An avatar must be a JPEG, PNG or WebP image."


class BrokenImage(AppError):
    status, code = 422, "broken_image"
    message = "The image could not be read: it is damaged or incomplete."


def normalize_avatar(data: bytes) -> tuple[bytes, str]:
    """Validate an upload and re-encode it; returns (WebP bytes, content hash of 16 hex digits).

    CPU-bound (tens of milliseconds for a phone photo): call it in a worker thread.
    """
    if len(data) > MAX_BYTES:
        raise AvatarTooLarge()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=sorted(FORMATS)) as image:
                if image.format not in FORMATS:
                    raise UnsupportedImage()
                if image.width * image.height > MAX_PIXELS:
                    raise AvatarTooManyPixels()
                image.load()  # the first frame only, for animations
                upright = ImageOps.exif_transpose(image)
                has_alpha = upright.mode in ("RGBA", "LA", "PA") or "transparency" in upright.info
                converted = upright.convert("RGBA" if has_alpha else "RGB")
                square = ImageOps.fit(converted, (SIZE, SIZE), Image.Resampling.LANCZOS)
    except (UnidentifiedImageError, Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
        if isinstance(exc, UnidentifiedImageError):
            raise UnsupportedImage() from exc
        raise AvatarTooManyPixels() from exc
    except (OSError, SyntaxError, ValueError) as exc:  # truncated or corrupt data
        raise BrokenImage() from exc
    out = io.BytesIO()
    square.save(out, "WEBP", quality=85, method=4)  # no exif= / icc_profile=: nothing carried over
    encoded = out.getvalue()
    return encoded, hashlib.sha256(encoded).hexdigest()[:16]
