"""TURN settings become the right coturn config, credentials and ICE servers (no network needed)."""

from __future__ import annotations

import base64
import hashlib
import hmac
from pathlib import Path

import pytest

from mitalk.core.settings import Settings
from mitalk.media.janus_config import write_janus_config
from mitalk.media.roombot import BotError, ice_configuration
from mitalk.media.turn import (
    DENIED_PEER_RANGES,
    TurnCredentials,
    TurnEndpoints,
    coturn_config,
    credential,
    own_turn_addresses,
    turn_from_settings,
)


def test_credentials_follow_coturns_shared_secret_scheme() -> None:
    username, password = credential("s3cret", "acct-1", 600, now=1_000_000.7)
    assert username == "1000600:acct-1"  # expiry first, then the account: coturn's order
    expected = hmac.new(b"s3cret", username.encode(), hashlib.sha1).digest()
    assert base64.b64decode(password) == expected
    servers = TurnCredentials(("turn:h:3478?transport=udp",), "s3cret", 600).ice_servers(
        "acct-1", now=1_000_000
    )
    assert servers == [
        {"urls": ["turn:h:3478?transport=udp"], "username": username, "credential": password}
    ]
    # Another account, or a later moment, never gets the same credential.
    assert credential("s3cret", "acct-2", 600, 1_000_000)[1] != password


def test_managed_turn_urls_config_and_limits(tmp_path: Path) -> None:
    settings = Settings(
        data_dir=tmp_path,
        turn="managed",
        turn_secret="x" * 20,
        public_ip="203.0.113.70",  # type: ignore[arg-type]
        turn_tls_host="turn.example.com",
        turn_tls_port=443,
        turn_tls_cert=tmp_path / "c.pem",
        turn_tls_key=tmp_path / "k.pem",
        turn_listen="172.16.0.11",
        turn_host="203.0.113.71",
    )
    endpoints = TurnEndpoints.managed(settings, "172.16.0.10")
    assert endpoints.urls == (
        "turn:203.0.113.71:3478?transport=udp",
        "turn:203.0.113.71:3478?transport=tcp",
        "turns:turn.example.com:443?transport=tcp",
    )
    text = coturn_config(
        settings, media_address="172.16.0.10", pid_path=tmp_path / "p", userdb=tmp_path / "db"
    )
    lines = set(text.splitlines())
    for line in (
        "use-auth-secret",
        "static-auth-secret=" + "x" * 20,
        "listening-ip=172.16.0.11",
        "relay-ip=172.16.0.10",
        "external-ip=203.0.113.70/172.16.0.10",
        "allowed-peer-ip=172.16.0.10",
        "tls-listening-port=443",
        f"cert={tmp_path / 'c.pem'}",
        "no-cli",
        "no-tlsv1",
        "no-tlsv1_1",
        "user-quota=12",
        "total-quota=2000",
        "max-bps=64000",
        "no-tcp-relay",
    ):
        assert line in lines, line
    assert "no-tls" not in lines
    denied = {line.split("=", 1)[1] for line in lines if line.startswith("denied-peer-ip=")}
    # The ranges, and coturn's own addresses (listening, and the public one clients use); not
    # MITALK_PUBLIC_IP, the media server's, nor the TLS host's name (no address to deny).
    assert denied == {*DENIED_PEER_RANGES, "172.16.0.11", "203.0.113.71"}
    # One address for everything (a small VPS): it is the media server's, so it stays allowed.
    single = Settings(
        data_dir=tmp_path, turn="managed", turn_secret="x" * 20, turn_host="203.0.113.10"
    )
    assert own_turn_addresses(single, "203.0.113.10") == []
    assert {"127.0.0.0-127.255.255.255", "10.0.0.0-10.255.255.255"} <= denied
    # Without a certificate: no TLS listener and no turns: URL.
    plain = Settings(data_dir=tmp_path, turn="managed", turn_secret="y" * 20)
    assert (
        "no-tls"
        in coturn_config(
            plain, media_address="203.0.113.10", pid_path=tmp_path / "p", userdb=tmp_path / "db"
        ).splitlines()
    )
    assert all(
        not url.startswith("turns:") for url in TurnEndpoints.managed(plain, "203.0.113.10").urls
    )


def test_turn_modes(tmp_path: Path) -> None:
    assert turn_from_settings(Settings(data_dir=tmp_path, turn="off"), "lo") == (None, None)
    with pytest.raises(ValueError, match="MITALK_TURN_URLS"):
        turn_from_settings(Settings(data_dir=tmp_path, turn="external"), "lo")
    with pytest.raises(ValueError, match="turn:"):
        turn_from_settings(
            Settings(data_dir=tmp_path, turn="external", turn_urls="http://x", turn_secret="s"),
            "lo",
        )
    external, server = turn_from_settings(
        Settings(
            data_dir=tmp_path,
            turn="external",
            turn_urls="turn:t.example.com:3478, turns:t.example.com:443?transport=tcp",
            turn_secret="s",
        ),
        "lo",
    )
    assert server is None and external is not None
    assert external.urls == ("turn:t.example.com:3478", "turns:t.example.com:443?transport=tcp")
    # Managed without a secret: one is generated, kept private in the data dir, and reused.
    managed = Settings(data_dir=tmp_path, turn="managed")
    secret = managed.resolved_turn_secret
    assert len(secret) >= 32 and (tmp_path / "turn.secret").stat().st_mode & 0o077 == 0
    assert Settings(data_dir=tmp_path, turn="managed").resolved_turn_secret == secret


def test_public_ip_becomes_janus_nat_1_1_mapping(tmp_path: Path) -> None:
    mapped = write_janus_config(
        tmp_path / "a",
        api_port=8188,
        rtp_port_range="20000-20999",
        media_interface="eth0",
        public_ip="203.0.113.70",
    )
    text = (mapped.folder / "janus.jcfg").read_text()
    assert 'nat_1_1_mapping = "203.0.113.70"' in text and "keep_private_host = false" in text
    assert "ice_tcp" not in text and "ice_lite" not in text
    plain = write_janus_config(
        tmp_path / "b", api_port=8188, rtp_port_range="20000-20999", media_interface="eth0"
    )
    assert "nat_1_1_mapping" not in (plain.folder / "janus.jcfg").read_text()


def test_relay_only_bots_pick_the_servers_turn_transport() -> None:
    servers = [
        {
            "urls": [
                "turn:h:3478?transport=udp",
                "turn:h:3478?transport=tcp",
                "turns:t:443?transport=tcp",
            ],
            "username": "u",
            "credential": "p",
        }
    ]
    tls = ice_configuration(servers, relay=True, turn="tls")
    assert tls.iceTransportPolicy.value == "relay"
    assert tls.iceServers is not None and tls.iceServers[0].urls == ["turns:t:443?transport=tcp"]
    assert ice_configuration(servers).iceTransportPolicy.value == "all"
    with pytest.raises(BotError, match="no_relay"):
        ice_configuration([], relay=True)
