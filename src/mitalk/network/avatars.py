"""Avatar images: check that an upload really is a JPEG, PNG or WebP, then re-encode it.

Nothing of the uploaded file is kept: it is decoded (with byte and pixel limits against
decompression bombs), turned upright by its EXIF orientation, cropped to a centred square,
resized to 256x256 and encoded anew as WebP, so no metadata (EXIF, GPS, comments, colour
profiles) and no bytes an attacker chose survive.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
import warnings
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from PIL import Image, ImageOps, UnidentifiedImageError

from mitalk.network.errors import (
    AvatarsBusy,
    AvatarTooLarge,
    AvatarTooManyPixels,
    BrokenImage,
    UnsupportedImage,
)
from mitalk.network.schemas import AVATAR_MAX_BYTES, AVATAR_MAX_PIXELS, AVATAR_MAX_SIDE

SIZE = 256
FORMATS = {"JPEG", "PNG", "WEBP"}
CONTENT_TYPE = "image/webp"


def normalize_avatar(data: bytes) -> tuple[bytes, str]:
    """Validate an upload and re-encode it; returns (WebP bytes, content hash of 16 hex digits).

    CPU-bound (tens of milliseconds for a phone photo): call it through ``DECODER``. The
    pixel limits are checked from the file's header, before any pixel is decoded.
    """
    if len(data) > AVATAR_MAX_BYTES:
        raise AvatarTooLarge()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=sorted(FORMATS)) as image:
                if image.format not in FORMATS:
                    raise UnsupportedImage()
                if (
                    image.width * image.height > AVATAR_MAX_PIXELS
                    or max(image.width, image.height) > AVATAR_MAX_SIDE
                ):
                    raise AvatarTooManyPixels()
                # JPEG decodes straight to a smaller scale (1/2 to 1/8) that still covers the
                # 256x256 result: a phone photo costs a fraction of a full decode.
                image.draft("RGB", (SIZE, SIZE))
                image.load()  # the first frame only, for animations
                upright = ImageOps.exif_transpose(image)
                has_alpha = upright.mode in ("RGBA", "LA", "PA") or "transparency" in upright.info
                converted = upright.convert("RGBA" if has_alpha else "RGB")
                square = ImageOps.fit(converted, (SIZE, SIZE), Image.Resampling.LANCZOS)
    except (
        UnidentifiedImageError,
        Image.DecompressionBombError,
        Image.DecompressionBombWarning,
    ) as exc:
        if isinstance(exc, UnidentifiedImageError):
            raise UnsupportedImage() from exc
        raise AvatarTooManyPixels() from exc
    except (OSError, SyntaxError, ValueError) as exc:  # truncated or corrupt data
        raise BrokenImage() from exc
    out = io.BytesIO()
    square.save(out, "WEBP", quality=85, method=4)  # no exif= / icc_profile=: nothing carried over
    encoded = out.getvalue()
    return encoded, hashlib.sha256(encoded).hexdigest()[:16]


def vcard_photo(webp: bytes) -> bytes:
    """A stored avatar (our own 256x256 WebP) as the JPEG a vCard carries: phones' contacts
    apps read JPEG everywhere, WebP not. Transparency is laid over white."""
    with Image.open(io.BytesIO(webp), formats=["WEBP"]) as image:
        image.load()
        flat = Image.new("RGB", image.size, "white")
        flat.paste(image, mask=image.getchannel("A") if image.mode == "RGBA" else None)
    out = io.BytesIO()
    flat.save(out, "JPEG", quality=85)
    return out.getvalue()


T = TypeVar("T")


class Decoder:
    """Decodes avatars on a few threads of their own, never on the event loop.

    At most ``threads`` decode at once (so uploads cannot take every core from the requests
    around them) and at most ``waiting`` more queue for a thread; past that an upload is
    refused at once with ``503 busy`` and ``Retry-After`` instead of holding its bytes in
    memory while it waits.
    """

    def __init__(self, threads: int = 2, waiting: int = 8) -> None:
        self.capacity = threads + waiting
        self.in_flight = 0
        self._pool = ThreadPoolExecutor(threads, thread_name_prefix="avatar-decode")

    async def run(self, work: Callable[[bytes], T], data: bytes) -> T:
        """``work(data)`` on a decoding thread; ``AvatarsBusy`` when the queue is full."""
        if self.in_flight >= self.capacity:
            raise AvatarsBusy(headers={"Retry-After": "5"})
        self.in_flight += 1
        try:
            return await asyncio.get_running_loop().run_in_executor(self._pool, work, data)
        finally:
            self.in_flight -= 1


DECODER = Decoder()
