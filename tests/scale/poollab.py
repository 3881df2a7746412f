"""Several machines in network namespaces: 2 API nodes, 3 media nodes, Redis, a client host.

::

    store 10.213.0.5 (redis-server)    api1 10.213.0.11   api2 10.213.0.12
    m1 10.213.0.21   m2 10.213.0.22    m3 10.213.0.23     client 10.213.0.31
                 all on one switch: a bridge in the namespace "lan"

Each host is a namespace of this run with one veth into the bridge; nothing touches the host
machine's interfaces, and no packet leaves the namespaces. PostgreSQL is the host machine's,
reached by the API nodes over its Unix socket (a file, so it crosses network namespaces);
Redis runs inside the topology (``store``) so a media node whose link is cut also loses its
heartbeat, as a real one would. Media nodes run ``mitalk serve`` with ``MITALK_NODE_ROLE=media``
(Janus + agent, and a managed coturn), API nodes with ``MITALK_NODE_ROLE=api``; the test's bots
run on ``client``.

Namespaces are named ``mitalk-pool-<pid>-<run>-<host>``; a run killed before it cleaned up is
swept by the next one.
"""

from __future__ import annotations

import contextlib
import os
import re
import secrets
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx

from netlab import Host

PREFIX = "mitalk-pool-"
SUBNET = "10.213.0"
STORE_IP = f"{SUBNET}.5"
ADDRESSES = {
    "store": STORE_IP,
    "api1": f"{SUBNET}.11",
    "api2": f"{SUBNET}.12",
    "m1": f"{SUBNET}.21",
    "m2": f"{SUBNET}.22",
    "m3": f"{SUBNET}.23",
    "client": f"{SUBNET}.31",
}
API_PORT = 8000
SECRET_KEY = "pool-test-key"


def _sh(*argv: str) -> None:
    result = subprocess.run(argv, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise RuntimeError(f"{' '.join(argv)} failed: {result.stderr.strip()}")


def remove_stale() -> None:
    """Delete namespaces of earlier runs whose process is gone."""
    for name in os.listdir("/run/netns") if os.path.isdir("/run/netns") else []:
        match = re.fullmatch(rf"{PREFIX}(\d+)-\w+-\w+", name)
        if match and not os.path.exists(f"/proc/{match.group(1)}"):
            subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)


@dataclass
class Node:
    """A ``mitalk serve`` process on one host of the lab."""

    name: str
    host: Host
    env: dict[str, str]
    command: list[str]
    log: Path
    process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        """Start (or restart) the node's process."""
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                self.host.command(*self.command),
                env=self.env,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own group: a kill takes Janus with it
            )

    def kill(self) -> None:
        """SIGKILL the node and everything it started (its Janus): a crash, not a stop."""
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(10)

    def stop(self) -> None:
        """Stop in order (SIGTERM), killing after a while."""
        if self.process is None or self.process.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGTERM)
        try:
            self.process.wait(15)
        except subprocess.TimeoutExpired:
            self.kill()

    def tail(self, lines: int = 30) -> str:
        """The end of the node's log."""
        return "\n".join(self.log.read_text(errors="replace").splitlines()[-lines:])


@dataclass
class PoolLab:
    """The running topology and its nodes."""

    run: str
    folder: Path
    hosts: dict[str, Host] = field(default_factory=dict)
    namespaces: list[str] = field(default_factory=list)
    nodes: dict[str, Node] = field(default_factory=dict)
    redis: subprocess.Popen[bytes] | None = None

    @property
    def redis_url(self) -> str:
        return f"redis://{STORE_IP}:6379/0"

    def api(self, name: str = "api1") -> str:
        """The base URL of an API node (reachable from the client host)."""
        return f"http://{ADDRESSES[name]}:{API_PORT}"

    def build(self) -> None:
        lan = f"{PREFIX}{os.getpid()}-{self.run}-lan"
        _sh("ip", "netns", "add", lan)
        self.namespaces.append(lan)
        _sh("ip", "-n", lan, "link", "add", "br0", "type", "bridge")
        _sh("ip", "-n", lan, "link", "set", "br0", "up")
        for name, address in ADDRESSES.items():
            ns = f"{PREFIX}{os.getpid()}-{self.run}-{name}"
            _sh("ip", "netns", "add", ns)
            self.namespaces.append(ns)
            _sh("ip", "-n", ns, "link", "set", "lo", "up")
            _sh("ip", "-n", ns, "link", "add", "eth0", "type", "veth", "peer", "name", f"p-{name}",
                "netns", lan)  # fmt: skip
            _sh("ip", "-n", ns, "addr", "add", f"{address}/24", "dev", "eth0")
            _sh("ip", "-n", ns, "link", "set", "eth0", "up")
            # A default route on the host's own link: browsers-alike need one; it leads only
            # to the lan.
            _sh("ip", "-n", ns, "route", "add", "default", "dev", "eth0")
            _sh("ip", "-n", lan, "link", "set", f"p-{name}", "master", "br0")
            _sh("ip", "-n", lan, "link", "set", f"p-{name}", "up")
            self.hosts[name] = Host(name, ns, address, address)

    def cut(self, name: str) -> None:
        """Cut a host's link (its cable pulled at the switch)."""
        _sh("ip", "-n", self.namespaces[0], "link", "set", f"p-{name}", "down")

    def mend(self, name: str) -> None:
        """Plug a host's link back in."""
        _sh("ip", "-n", self.namespaces[0], "link", "set", f"p-{name}", "up")

    def start_redis(self) -> None:
        redis = shutil.which("redis-server")
        if redis is None:
            raise RuntimeError("redis-server is not installed")
        log = (self.folder / "redis.log").open("ab")
        self.redis = subprocess.Popen(
            self.hosts["store"].command(
                redis, "--bind", STORE_IP, "--port", "6379", "--save", "", "--appendonly", "no",
                "--protected-mode", "no", "--dir", str(self.folder),
            ),
            stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip

    def _env(self, name: str, **extra: str) -> dict[str, str]:
        env = {k: v for k, v in os.environ.items() if not k.startswith("MITALK_")}
        env |= {
            "MITALK_DATA_DIR": str(self.folder / name),
            "MITALK_SECRET_KEY": SECRET_KEY,
            "MITALK_REDIS_URL": self.redis_url,
            "MITALK_NODE_ID": name,
            "MITALK_NODE_ADDRESS": ADDRESSES[name],
            "MITALK_LOG_LEVEL": "info",
        }
        return env | extra

    def add_media_node(self, name: str) -> Node:
        env = self._env(
            name,
            MITALK_NODE_ROLE="media",
            MITALK_MEDIA_INTERFACE="eth0",
            MITALK_JANUS_RTP_PORT_RANGE="20000-29999",
            MITALK_TURN="managed",  # each media node its own coturn, on the pool's secret
        )
        node = Node(name, self.hosts[name], env, [sys.executable, "-m", "mitalk", "serve"],
                    self.folder / f"{name}.log")  # fmt: skip
        self.nodes[name] = node
        node.start()
        return node

    def add_api_node(self, name: str, database_url: str, **extra: str) -> Node:
        env = self._env(
            name,
            MITALK_NODE_ROLE="api",
            MITALK_DATABASE_URL=database_url,
            MITALK_RUN_WORKERS="false",
            **extra,
        )
        command = [sys.executable, "-m", "mitalk", "serve", "--host", ADDRESSES[name],
                   "--port", str(API_PORT)]  # fmt: skip
        node = Node(name, self.hosts[name], env, command, self.folder / f"{name}.log")
        self.nodes[name] = node
        node.start()
        return node

    def wait_healthy(self, name: str, url: str, timeout: float = 60) -> None:
        """Wait until a node's /healthz says 200 (from inside the client host)."""
        node = self.nodes[name]
        deadline = time.monotonic() + timeout
        with self.hosts["client"].entered():
            while True:
                if node.process is not None and node.process.poll() is not None:
                    raise RuntimeError(f"{name} exited:\n{node.tail()}")
                with contextlib.suppress(httpx.HTTPError):
                    if httpx.get(f"{url}/healthz", timeout=1, trust_env=False).status_code == 200:
                        return
                if time.monotonic() > deadline:
                    raise RuntimeError(f"{name} not healthy in {timeout} s:\n{node.tail()}")
                time.sleep(0.2)

    def destroy(self) -> None:
        for node in self.nodes.values():
            node.stop()
        if self.redis is not None:
            self.redis.terminate()
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.redis.wait(5)
            if self.redis.poll() is None:
                self.redis.kill()
        for name in reversed(self.namespaces):
            subprocess.run(["ip", "netns", "del", name], check=False, capture_output=True)


@contextlib.contextmanager
def pool_lab(folder: Path) -> Iterator[PoolLab]:
    """Build the topology and start Redis; nodes are added by the caller; all torn down after."""
    if os.geteuid() != 0:
        raise RuntimeError("the pool lab needs root (network namespaces)")
    for tool in ("ip", "janus", "redis-server"):
        if shutil.which(tool) is None:
            raise RuntimeError(f"the pool lab needs `{tool}`")
    remove_stale()
    lab = PoolLab(run=secrets.token_hex(3), folder=folder)
    try:
        lab.build()
        lab.start_redis()
        yield lab
    finally:
        lab.destroy()
