"""HTTPS in the app and in the managed Caddy's configuration (the live front: tests/internet)."""

from __future__ import annotations

from pathlib import Path

import pytest
from httpx import ASGITransport, AsyncClient
from pydantic import ValidationError

from factories import last_code, new_phone
from mitalk.app import create_app
from mitalk.core.settings import Settings
from mitalk.front.caddy import caddyfile, https_port, upstream


def _settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(
        data_dir=tmp_path / "data", secret_key="k", media="off", run_workers=False, **values
    )  # type: ignore[arg-type]


async def test_https_answers_carry_hsts_and_plain_http_ones_do_not(tmp_path: Path) -> None:
    settings = _settings(tmp_path, public_url="https://talk.example.com")
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        transport = ASGITransport(app=app)
        async with AsyncClient(transport=transport, base_url="https://talk.example.com") as https:
            for path in ("/healthz", "/api/v1/me", "/api/v1/openapi.json"):
                answer = await https.get(path)
                assert answer.headers["strict-transport-security"] == "max-age=31536000", path
        async with AsyncClient(transport=transport, base_url="http://127.0.0.1:8000") as plain:
            # Plain http only ever comes from the proxy's side (or the embedded default).
            assert "strict-transport-security" not in (await plain.get("/healthz")).headers


async def test_hsts_max_age_zero_sends_none(tmp_path: Path) -> None:
    settings = _settings(tmp_path, public_url="https://talk.example.com", hsts_max_age=0)
    app = create_app(settings)
    transport = ASGITransport(app=app)
    async with (
        app.router.lifespan_context(app),
        AsyncClient(transport=transport, base_url="https://talk.example.com") as https,
    ):
        assert "strict-transport-security" not in (await https.get("/healthz")).headers


@pytest.mark.parametrize(
    ("public_url", "base_url", "secure"),
    [
        ("https://talk.example.com", "https://talk.example.com", True),
        # Behind a proxy that forgot X-Forwarded-Proto the request looks like http: still Secure.
        ("https://talk.example.com", "http://talk.example.com", True),
        (None, "http://localhost:8000", False),  # the embedded default on localhost
    ],
)
async def test_the_session_cookie_is_secure_when_the_public_url_is_https(
    tmp_path: Path, public_url: str | None, base_url: str, secure: bool
) -> None:
    settings = _settings(tmp_path, public_url=public_url)
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        from factories import set_phase
        from mitalk.core.migrate import upgrade

        await upgrade(app.state.db)
        await set_phase(app.state.db, "open")
        async with AsyncClient(transport=ASGITransport(app=app), base_url=base_url) as http:
            phone = new_phone()
            assert (await http.post("/api/v1/auth/code", json={"phone": phone})).status_code == 202
            code = last_code(settings.data_dir / "sms-outbox.jsonl", phone)
            answer = await http.post("/api/v1/auth/session", json={"phone": phone, "code": code})
            assert answer.status_code == 200, answer.text
    cookies = answer.headers.get_list("set-cookie")
    assert len(cookies) == 2
    for cookie in cookies:
        assert ("; secure" in cookie.lower()) is secure, cookie


def test_the_public_url_is_an_origin(tmp_path: Path) -> None:
    assert _settings(tmp_path, public_url="HTTPS://Talk.Example.com/").public_url == "https://talk.example.com"
    for bad in ("talk.example.com", "ftp://talk.example.com", "https://talk.example.com/app", "https://u:p@talk.example.com"):
        with pytest.raises(ValidationError):
            _settings(tmp_path, public_url=bad)
    settings = _settings(tmp_path, public_url="https://talk.example.com")
    assert settings.https and settings.managed_tls and settings.public_host == "talk.example.com"
    assert not _settings(
        tmp_path, public_url="https://talk.example.com", tls="external"
    ).managed_tls
    assert not _settings(tmp_path).https


def test_the_caddyfile_for_each_way_of_getting_a_certificate(tmp_path: Path) -> None:
    base = {"public_url": "https://talk.example.com", "port": 8123}
    acme = caddyfile(_settings(tmp_path, **base, acme_email="ops@example.com"))
    assert "https://talk.example.com:443 {" in acme
    assert "reverse_proxy 127.0.0.1:8123" in acme
    assert 'email "ops@example.com"' in acme
    assert "tls " not in acme  # Caddy's automatic HTTPS: ACME for a public name
    assert "admin off" in acme and "skip_install_trust" in acme
    assert f'root "{tmp_path / "data" / "caddy" / "data"}"' in acme

    own = caddyfile(
        _settings(tmp_path, **base, tls_cert=tmp_path / "chain.pem", tls_key=tmp_path / "key.pem")
    )
    assert f'tls "{tmp_path / "chain.pem"}" "{tmp_path / "key.pem"}"' in own

    lan = caddyfile(_settings(tmp_path, public_url="https://mitalk.lan", tls_issuer="internal"))
    assert "tls internal" in lan

    private_ca = caddyfile(
        _settings(
            tmp_path,
            **base,
            tls_issuer="acme",
            acme_ca="https://acme.test/directory",
            acme_ca_root=tmp_path / "root.pem",
            https_address="203.0.113.10",
            http_port=8080,
        )
    )
    assert 'acme_ca "https://acme.test/directory"' in private_ca
    assert f'acme_ca_root "{tmp_path / "root.pem"}"' in private_ca
    assert "bind 203.0.113.10" in private_ca and "http_port 8080" in private_ca
    assert "issuer acme" in private_ca


def test_caddy_listens_on_the_public_urls_port_and_forwards_to_loopback(tmp_path: Path) -> None:
    assert https_port(_settings(tmp_path, public_url="https://talk.example.com:8443")) == 8443
    assert https_port(_settings(tmp_path, public_url="https://talk.example.com")) == 443
    # The API listening on every address is still reached by Caddy on loopback.
    assert upstream(_settings(tmp_path, host="0.0.0.0", port=9000)) == "127.0.0.1:9000"


def test_a_quote_in_a_path_cannot_change_the_caddyfile(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="Caddyfile"):
        caddyfile(
            _settings(
                tmp_path,
                public_url="https://talk.example.com",
                tls_cert=Path('/x"\n}'),
                tls_key=tmp_path / "k",
            )
        )
