"""A whole visit's server log holds no IP address but the one the server binds to.

`run.py serve` runs as a clinic runs it (its own logging set-up, INFO); two aiortc peers
hold a call through it and one runs the connection check, whose echo peer does ICE with
her inside the server. Every line the server wrote is then scanned for IPv4 and IPv6
literals.
"""

from __future__ import annotations

import asyncio
import ipaddress
import json
import re
import subprocess
from pathlib import Path

from signaling.bot import VisitClient, run_echo_check
from signaling.ice import use_loopback_candidates
from tests.live import free_port
from tests.test_cli import run, serve, wait_healthy

BIND = "127.0.0.5"
"""The server's own address: peers meet on 127.0.0.1, so any 127.0.0.1 in the log is theirs."""

_IPV4 = re.compile(r"(?<![\w.])(?:\d{1,3}\.){3}\d{1,3}(?![\w.])")
_IPV6 = re.compile(r"(?<![\w:])[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:%\w+)?(?![\w:])")


def ip_literals(text: str) -> set[str]:
    """Every IPv4 or IPv6 address written in the text."""
    found = set()
    for match in [*_IPV4.findall(text), *_IPV6.findall(text)]:
        try:
            found.add(str(ipaddress.ip_address(match.split("%")[0])))
        except ValueError:
            pass  # a time of day, a version number
    return found


def test_the_scan_finds_addresses_of_both_families():
    line = ("Check CandidatePair(('127.0.0.1', 51234) -> ('203.0.113.9', 3478)) "
            "from [2001:db8::7]:9 and fe80::1%eth0 at 07:31:56,123 v1.2.3")
    assert ip_literals(line) == {"127.0.0.1", "203.0.113.9", "2001:db8::7", "fe80::1"}


async def test_a_whole_visit_logs_no_address_but_the_servers(tmp_path: Path, monkeypatch):
    use_loopback_candidates()  # the peers in this process
    monkeypatch.setenv("VISITROOM_ICE_LOOPBACK", "1")  # the echo peer in the server
    db, port = tmp_path / "v.db", free_port()
    base = f"http://{BIND}:{port}"
    visit = json.loads(run("create-visit", "--db", str(db), "--patient-name", "Maya Lopez",
                           "--therapist-name", "Sam Lee", "--public-url", base, "--json").stdout)
    server = serve(db, port, "--host", BIND, output=subprocess.PIPE)
    try:
        await asyncio.get_running_loop().run_in_executor(None, wait_healthy, base, server)
        patient = VisitClient(visit["patient_url"])
        therapist = VisitClient(visit["therapist_url"], admit=True)
        calls = await asyncio.gather(patient.run(timeout=20, stay=1.0),
                                     therapist.run(timeout=20, stay=1.0))
        assert all(figures.complete for figures in calls)
        check = await run_echo_check(visit["patient_url"], seconds=2.0)
        assert check.rtt_ms is not None  # the echo peer did ICE with the patient
    finally:
        server.terminate()
        log, _ = server.communicate(timeout=20)
    assert "echo session" in log and " 101 " in log  # the log is the server's, at INFO
    assert ip_literals(log) <= {BIND}, [line for line in log.splitlines()
                                        if ip_literals(line) - {BIND}][:5]
