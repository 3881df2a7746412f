"""Ports: free or taken, who holds one, whether a given process owns it; the serve command's
HTTP port; startup errors and secrets in the log. On the host's loopback, no media."""

from __future__ import annotations

import io
import logging
import os
import socket
import subprocess
import sys
import traceback
from pathlib import Path

from live import MITALK, mitalk_env
from mitalk.cli import _listen
from mitalk.core.logging import RedactSecretsInUrls, StartupErrorsInOneLine
from mitalk.core.ports import (
    Holder,
    PortTaken,
    ProcessInfo,
    holder_of,
    listen_tcp,
    overlaps,
    process_owns_port,
    tcp_port_free,
    udp_ports_in_use,
)

OWN_NAME = Path("/proc/self/comm").read_text().strip()


def test_a_listening_port_is_taken_and_its_holder_is_us() -> None:
    listener = listen_tcp("127.0.0.1", 0)
    port = listener.getsockname()[1]
    try:
        assert not tcp_port_free("127.0.0.1", port)
        assert holder_of("tcp", port) == Holder(os.getpid(), OWN_NAME)
        assert process_owns_port(os.getpid(), "tcp", port)
    finally:
        listener.close()
    assert tcp_port_free("127.0.0.1", port)
    assert holder_of("tcp", port) is None
    assert not process_owns_port(os.getpid(), "tcp", port)


def test_only_the_process_that_listens_owns_the_port() -> None:
    # What the supervisor asks of the Janus that answers: is it the child we started?
    child = subprocess.Popen(
        [sys.executable, "-c", (
            "import socket, sys, time\n"
            "s = socket.socket(); s.bind(('127.0.0.1', 0)); s.listen()\n"
            "print(s.getsockname()[1], flush=True); time.sleep(60)\n"
        )],
        stdout=subprocess.PIPE, text=True,
    )
    try:
        assert child.stdout is not None
        port = int(child.stdout.readline())
        assert process_owns_port(child.pid, "tcp", port)
        assert not process_owns_port(os.getpid(), "tcp", port)
        holder = holder_of("tcp", port)
        assert holder is not None and holder.pid == child.pid
        error = PortTaken(f"port {port} is in use by {holder}", "MITALK_SOMETHING", holder=holder)
        assert str(error) == (
            f"port {port} is in use by {holder.name} (pid {child.pid}); "
            "set MITALK_SOMETHING to choose another"
        )
    finally:
        child.kill()
        child.wait()


def test_udp_ports_in_use_name_their_holder() -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
        udp.bind(("127.0.0.1", 0))
        port = udp.getsockname()[1]
        assert udp_ports_in_use(port, port) == {port: Holder(os.getpid(), OWN_NAME)}
    assert udp_ports_in_use(port, port) == {}


def test_ranges_and_command_lines() -> None:
    assert overlaps((20000, 40000), (39999, 41000))
    assert not overlaps((10000, 11999), (12000, 13999))
    janus = ProcessInfo(7, "janus", ("janus", "-F", "/srv/a/janus", "--log-file=/tmp/x"))
    assert janus.option("-F", "--configs-folder") == "/srv/a/janus"
    assert janus.option("--log-file") == "/tmp/x"
    assert janus.option("-C", "--config") is None
    other = ProcessInfo(8, "janus", ("janus", "--configs-folder=/b"))
    assert other.option("-F", "--configs-folder") == "/b"


def test_serve_refuses_an_explicit_http_port_in_use_in_one_line(tmp_path: Path) -> None:
    holder = listen_tcp("127.0.0.1", 0)
    port = holder.getsockname()[1]
    try:
        for args, extra in (
            (["--port", str(port)], {}),
            ([], {"MITALK_PORT": str(port)}),
        ):
            result = subprocess.run(
                [*MITALK, "serve", *args], env=mitalk_env(tmp_path / "data", **extra),
                capture_output=True, text=True, timeout=120, check=False,
            )
            assert result.returncode == 1, result.stderr
            assert result.stderr.strip().splitlines()[-1] == (
                f"error: port {port} on 127.0.0.1 is in use by {OWN_NAME} (pid {os.getpid()}); "
                "set MITALK_PORT (or --port) to choose another"
            ), result.stderr
            assert "Traceback" not in result.stderr
            # It stopped before anything else: not even the database was made.
            assert not (tmp_path / "data" / "mitalk.db").exists()
    finally:
        holder.close()


def test_a_default_http_port_in_use_gives_way_to_the_next_free_one() -> None:
    holder = listen_tcp("127.0.0.1", 0)
    port = holder.getsockname()[1]
    output = io.StringIO()
    log = logging.getLogger("test.ports.listen")
    log.addHandler(logging.StreamHandler(output))
    try:
        listener = _listen("127.0.0.1", port, explicit=False, log=log)
        try:
            chosen = listener.getsockname()[1]
            assert port < chosen <= port + 100
            assert process_owns_port(os.getpid(), "tcp", chosen)
        finally:
            listener.close()
    finally:
        holder.close()
    assert output.getvalue().strip() == (
        f"port {port} on 127.0.0.1 is in use by {OWN_NAME} (pid {os.getpid()}); serving on "
        f"{chosen} instead (set MITALK_PORT or --port to choose)"
    )


def _record(logger: str, message: str) -> logging.LogRecord:
    return logging.LogRecord(logger, logging.ERROR, __file__, 1, message, (), None)


def test_a_startup_error_from_the_lifespan_is_logged_as_its_one_line() -> None:
    try:
        raise PortTaken(
            "the Janus API port 8188 is in use by janus (pid 42)", "MITALK_JANUS_API_PORT"
        )
    except PortTaken as exc:
        error, text = exc, traceback.format_exc()
    keep = StartupErrorsInOneLine()
    record = _record("uvicorn.error", text)
    assert keep.filter(record)
    assert record.getMessage() == str(error)
    assert not keep.filter(_record("uvicorn.error", "Application startup failed. Exiting."))

    # Anything else is a bug: its traceback stays whole.
    try:
        raise ValueError("bug")
    except ValueError:
        text = traceback.format_exc()
    other = StartupErrorsInOneLine()
    record = _record("uvicorn.error", text)
    assert other.filter(record) and record.getMessage() == text
    assert other.filter(_record("uvicorn.error", "Application startup failed. Exiting."))


def test_secrets_in_logged_urls_are_redacted() -> None:
    record = logging.LogRecord(
        "httpx", logging.DEBUG, __file__, 1, 'HTTP Request: %s %s "%s"',
        ("GET", "http://127.0.0.1:8188/janus/12?maxev=10&apisecret=s3cr3t-_x", "HTTP/1.1 200 OK"),
        None,
    )
    assert RedactSecretsInUrls().filter(record)
    assert record.getMessage() == (
        "HTTP Request: GET http://127.0.0.1:8188/janus/12?maxev=10&apisecret=[redacted]"
        ' "HTTP/1.1 200 OK"'
    )
