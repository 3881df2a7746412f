"""What an avatar upload costs the server's CPU: the decode and re-encode of a phone photo,
with and without JPEG's reduced-scale decoding, a PNG of the same size, and the refusal of a
picture over the pixel limit (read from its header).

    .venv/bin/python bench/avatars.py      # ~10 s; prints one JSON object (milliseconds, best of 3)
    .venv/bin/python bench/avatars.py --under-load   # ~40 s: another account's GET /me while
                                                     # 16 uploads of a 12 MP PNG arrive at once

``--under-load`` starts a real ``mitalk serve`` (SQLite, no media) in a temporary data dir.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import re
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx
from PIL import Image, ImageDraw, JpegImagePlugin

from mitalk.network.avatars import normalize_avatar
from mitalk.network.errors import AvatarTooManyPixels


def photo(fmt: str, size: tuple[int, int]) -> bytes:
    """A picture with stripes and shapes (compresses like a photo more than a flat colour)."""
    image = Image.new("RGB", size)
    draw = ImageDraw.Draw(image)
    for y in range(0, size[1], 4):
        draw.line([(0, y), (size[0], y)], fill=(y % 256, (y * 3) % 256, 120))
    out = io.BytesIO()
    image.save(out, fmt, **({"quality": 90} if fmt == "JPEG" else {}))
    return out.getvalue()


def best_ms(work: Callable[[], object], repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        started = time.perf_counter()
        try:
            work()
        except AvatarTooManyPixels:
            pass
        best = min(best, time.perf_counter() - started)
    return round(best * 1000, 1)


def main() -> None:
    jpeg = photo("JPEG", (4032, 3024))  # a 12-megapixel phone photo
    png = photo("PNG", (4032, 3024))
    too_many = photo("PNG", (5000, 5000))
    figures = {
        "jpeg_12mp_bytes": len(jpeg),
        "jpeg_12mp_ms": best_ms(lambda: normalize_avatar(jpeg)),
        "png_12mp_ms": best_ms(lambda: normalize_avatar(png)),
        "png_25mp_refused_ms": best_ms(lambda: normalize_avatar(too_many)),
    }
    # The same JPEG decoded at full scale, as before reduced-scale decoding was used.
    reduced = JpegImagePlugin.JpegImageFile.draft
    setattr(JpegImagePlugin.JpegImageFile, "draft", lambda self, mode, size: None)  # noqa: B010
    try:
        figures["jpeg_12mp_full_decode_ms"] = best_ms(lambda: normalize_avatar(jpeg))
    finally:
        setattr(JpegImagePlugin.JpegImageFile, "draft", reduced)  # noqa: B010
    print(json.dumps(figures))


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _sign_in(base: str, outbox: Path, phone: str) -> str:
    assert httpx.post(f"{base}/api/v1/auth/code", json={"phone": phone}).status_code == 202
    lines = [json.loads(line) for line in outbox.read_text().splitlines()]
    code = re.search(r"\b\d{6}\b", [m for m in lines if m["to"] == phone][-1]["body"])
    assert code is not None
    answer = httpx.post(f"{base}/api/v1/auth/verify", json={"phone": phone, "code": code.group()})
    return str(answer.json()["token"])


async def _me_latencies(base: str, token: str, count: int) -> list[float]:
    times = []
    async with httpx.AsyncClient(base_url=base, timeout=30) as client:
        for _ in range(count):
            started = time.perf_counter()
            answer = await client.get("/api/v1/me", headers={"Authorization": f"Bearer {token}"})
            assert answer.status_code == 200
            times.append((time.perf_counter() - started) * 1000)
    return times


async def _load(base: str, uploader: str, reader: str, png: bytes) -> dict[str, object]:
    idle = await _me_latencies(base, reader, 30)
    async with httpx.AsyncClient(base_url=base, timeout=120) as client:
        uploads = [
            client.put(
                "/api/v1/me/avatar",
                files={"file": ("a.png", png, "image/png")},
                headers={"Authorization": f"Bearer {uploader}"},
            )
            for _ in range(16)
        ]
        answers, loaded = await asyncio.gather(
            asyncio.gather(*uploads), _me_latencies(base, reader, 30)
        )
    statuses = sorted(a.status_code for a in answers)
    return {
        "me_p50_ms_idle": round(statistics.median(idle), 1),
        "me_p50_ms_during_16_uploads": round(statistics.median(loaded), 1),
        "me_max_ms_during_16_uploads": round(max(loaded), 1),
        "upload_statuses": {str(s): statuses.count(s) for s in sorted(set(statuses))},
    }


def under_load() -> None:
    png = photo("PNG", (4032, 3024))
    with tempfile.TemporaryDirectory() as folder:
        data = Path(folder) / "data"
        env = {**os.environ, "MITALK_DATA_DIR": str(data), "MITALK_MEDIA": "off",
               "MITALK_SECRET_KEY": "bench"}
        mitalk = [sys.executable, "-m", "mitalk"]
        subprocess.run([*mitalk, "admin", "phase", "open"], env=env, check=True,
                       capture_output=True)
        port = _free_port()
        server = subprocess.Popen([*mitalk, "serve", "--port", str(port)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        base = f"http://127.0.0.1:{port}"
        try:
            for _ in range(600):
                try:
                    if httpx.get(f"{base}/healthz", timeout=1).status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.1)
            outbox = data / "sms-outbox.jsonl"
            uploader = _sign_in(base, outbox, "+4915190000041")
            reader = _sign_in(base, outbox, "+4915190000042")
            print(json.dumps(asyncio.run(_load(base, uploader, reader, png))))
        finally:
            server.terminate()
            server.wait(10)


if __name__ == "__main__":
    under_load() if "--under-load" in sys.argv else main()
