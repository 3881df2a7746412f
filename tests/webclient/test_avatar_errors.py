"""A photo with too many pixels is refused with the limit the server holds to, shown in each of
the four languages (real Chromium against a real `mitalk serve`; screens at phone size)."""

from __future__ import annotations

import json
from pathlib import Path

from PIL import Image

from browser import check_and_publish, require_built_client, run_scenario
from live import live_server

WEB = Path(__file__).resolve().parents[2] / "web"
LANGUAGES = ["en", "de", "zh-Hans", "zh-Hant"]


def test_a_photo_with_too_many_pixels_is_refused_in_every_language(tmp_path: Path) -> None:
    require_built_client()
    picture = tmp_path / "big.png"
    Image.new("L", (5000, 5000), 128).save(picture)  # 25 megapixels in a few KB
    expected = {
        language: json.loads((WEB / "src" / "i18n" / f"{language}.json").read_text())[
            "errors.avatar_too_many_pixels"
        ]
        for language in LANGUAGES
    }
    assert all("4096" in text for text in expected.values())
    data = tmp_path / "data"
    out = tmp_path / "out"
    with live_server(data) as base:
        run_scenario(
            "avatar-errors.mjs", base, data, out, 180, bigPicture=str(picture), expected=expected
        )
    check_and_publish(out, [f"avatar-too-many-pixels-{language}" for language in LANGUAGES])
