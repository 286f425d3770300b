"""A real coturn (Debian's `turnserver`) on 127.0.0.1, on a free port, with a temporary directory.

Never a system service: the tests start and stop their own process, with a configuration
file, log, pid file and user database in a temporary folder. It runs the TURN REST scheme
(`use-auth-secret`) Visitroom mints credentials for, and lets peers on loopback be relayed
to (every peer of a test runs on this machine). `tests/run.sh` installs the package when
`turnserver` is missing. Import the `coturn` fixture into a test module to use it.
"""

from __future__ import annotations

import os
import random
import re
import shutil
import socket
import subprocess
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.live import free_port

REALM = "visitroom.test"
RELAY_PORTS = 40
"""Relay ports the server may allocate from (two per peer connection at most here)."""
USER_QUOTA = 12
"""coturn's `user-quota`: simultaneous allocations of one TURN user (a participant's link,
whatever the credential's expiry), as docs/deployment.md sets it (a test checks both)."""


class CoturnServer:
    """One turnserver process with a static auth secret."""

    def __init__(self, directory: Path, secret: str) -> None:
        self.directory = directory
        self.secret = secret
        self.port = _free_udp_and_tcp_port()
        # A narrow relay range away from the ports the kernel hands out for free ports.
        self.min_port = random.randrange(20000, 30000 - RELAY_PORTS)
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        """The turn: URL clients use (UDP)."""
        return f"turn:127.0.0.1:{self.port}?transport=udp"

    @property
    def log_path(self) -> Path:
        return self.directory / "turnserver.log"

    def log(self) -> str:
        """What the server has logged so far."""
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def _write_config(self) -> Path:
        path = self.directory / "turnserver.conf"
        path.write_text("\n".join([
            "listening-ip=127.0.0.1", "relay-ip=127.0.0.1", f"listening-port={self.port}",
            f"min-port={self.min_port}", f"max-port={self.min_port + RELAY_PORTS - 1}",
            "use-auth-secret", f"static-auth-secret={self.secret}", f"realm={REALM}",
            f"user-quota={USER_QUOTA}",
            "fingerprint", "no-cli", "no-tls", "no-dtls", "no-rfc5780", "no-tcp-relay",
            "no-multicast-peers",
            # Every peer of a test is on 127.0.0.1; coturn refuses loopback peers otherwise.
            "allow-loopback-peers",
            "relay-threads=1", "verbose",
            f"log-file={self.log_path}", "simple-log", "no-stdout-log",
            f"pidfile={self.directory / 'turnserver.pid'}",
            f"userdb={self.directory / 'turndb'}",
        ]) + "\n")
        os.chmod(path, 0o600)  # it holds the secret
        return path

    def start(self) -> None:
        """Start it and wait until it answers a STUN binding request."""
        binary = shutil.which("turnserver")
        if binary is None:
            pytest.fail("turnserver is not installed: run the tests with bash tests/run.sh "
                        "(it installs Debian's coturn)")
        self.process = subprocess.Popen([binary, "-c", str(self._write_config())],
                                        stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if _answers_binding(self.port):
                return
            if self.process.poll() is not None:
                break
            time.sleep(0.05)
        self.stop()
        pytest.fail(f"turnserver did not start on port {self.port}: {self.log()[-2000:]}")

    def stop(self) -> None:
        """Stop it and wait until it is gone."""
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=5)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=5)
        self.process = None

    def allocations_of(self, username: str) -> int:
        """How many relay allocations the log shows for this TURN username."""
        return len(re.findall(rf"user <{re.escape(username)}>: incoming packet ALLOCATE "
                              r"processed, success", self.log()))

    def allocations_of_user(self, user: str) -> int:
        """How many relay allocations the log shows for any credential of this TURN user
        (the username's part after `<expiry>:`, i.e. `<participant id>.<link id>`)."""
        return len(re.findall(rf"user <\d+:{re.escape(user)}>: incoming packet ALLOCATE "
                              r"processed, success", self.log()))

    def refusals_of(self, username: str) -> int:
        """How many requests signed with this TURN username the server refused (401 after
        the client answered the challenge: a credential it does not accept)."""
        return len(re.findall(rf"Cannot find credentials of user <{re.escape(username)}>",
                              self.log()))


def _free_udp_and_tcp_port() -> int:
    """A port free for both UDP and TCP on 127.0.0.1 (coturn listens on both)."""
    for _ in range(20):
        port = free_port()
        with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as udp:
            try:
                udp.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port for turnserver")


def _answers_binding(port: int) -> bool:
    """A STUN binding request to the port gets a binding success response."""
    transaction = os.urandom(12)
    request = b"\x00\x01\x00\x00\x21\x12\xa4\x42" + transaction
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.2)
        try:
            s.sendto(request, ("127.0.0.1", port))
            answer = s.recv(2048)
        except OSError:
            return False
    return answer[:2] == b"\x01\x01" and answer[8:20] == transaction


@pytest.fixture
def coturn() -> Iterator[CoturnServer]:
    """A turnserver for one test, with a fresh secret."""
    with tempfile.TemporaryDirectory(prefix="visitroom-coturn-") as directory:
        server = CoturnServer(Path(directory), secret=os.urandom(16).hex())
        server.start()
        yield server
        server.stop()
