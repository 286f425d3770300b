"""PeerJS's signaling server as an outside yardstick: installed, started, and connected to.

    python -m bench.peerjs        # install if needed, start it, relay one offer between two peers

The npm package `peer` (PeerJS's server, pinned to PEER_VERSION) is installed once with
`npm install --prefix ~/.cache/visitroom-bench/peerjs` (VISITROOM_BENCH_CACHE moves the
cache) and reused while that version is there. A small launcher runs its `PeerServer` on
127.0.0.1 with Node, quietly (no log line per client, unlike the package's own bin), its
concurrent limit raised for the benchmark's sockets and its alive timeout lengthened as
Visitroom's heartbeat is (benchmark sockets send no HEARTBEAT). A client opens
`/peerjs?key=peerjs&id=ID&token=TOKEN` and is answered `{"type": "OPEN"}`; messages
`{"type": "OFFER" | "CANDIDATE", "dst": ID, "payload": ...}` are relayed with `src` added.
`bench.signaling` and `bench.reconnect` use it when `node` and `npm` are on PATH.
"""

from __future__ import annotations

import asyncio
import json
import os
import shutil
import socket
import subprocess
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import aiohttp

from bench.common import Server, free_port, pin, raise_file_limit, stop_server

PEER_VERSION = "1.0.2"
CACHE = Path(os.environ.get("VISITROOM_BENCH_CACHE", Path.home() / ".cache/visitroom-bench")) / "peerjs"
LAUNCHER = """\
// Written by bench/peerjs.py: PeerJS's PeerServer on 127.0.0.1, quiet.
const { PeerServer } = require("peer");
const port = Number(process.argv[2]);
const server = PeerServer({ host: "127.0.0.1", port, key: "peerjs", path: "/",
  concurrent_limit: 1000000, alive_timeout: 600000 }, () => console.log("ready"));
server.on("error", (error) => console.error(String(error)));
for (const signal of ["SIGINT", "SIGTERM"]) process.on(signal, () => process.exit(0));
"""


def unavailable() -> str | None:
    """Why PeerJS cannot run here (None: node and npm are on PATH)."""
    missing = [tool for tool in ("node", "npm") if shutil.which(tool) is None]
    return f"{' and '.join(missing)} not on PATH" if missing else None


def node_version() -> str:
    """`node --version`."""
    return subprocess.run(["node", "--version"], capture_output=True, text=True, timeout=30, check=False).stdout.strip()


def install(cache: Path = CACHE) -> Path:
    """The launcher, with `peer@PEER_VERSION` installed beside it (npm, once); RuntimeError
    when node or npm is missing or the install fails."""
    reason = unavailable()
    if reason:
        raise RuntimeError(reason)
    manifest = cache / "node_modules/peer/package.json"
    if not manifest.exists() or json.loads(manifest.read_text()).get("version") != PEER_VERSION:
        cache.mkdir(parents=True, exist_ok=True)
        done = subprocess.run(["npm", "install", "--prefix", str(cache), "--no-audit", "--no-fund",
                               "--save-exact", f"peer@{PEER_VERSION}"],
                              capture_output=True, text=True, timeout=600, check=False)
        if done.returncode != 0 or not manifest.exists():
            raise RuntimeError(f"npm install peer@{PEER_VERSION} failed: {(done.stderr or done.stdout)[-500:]}")
    launcher = cache / "launcher.cjs"
    if not launcher.exists() or launcher.read_text() != LAUNCHER:
        launcher.write_text(LAUNCHER)
    return launcher


def start(port: int, core: int | None = 0, timeout: float = 30.0) -> Server:
    """PeerJS's server on 127.0.0.1:port (installed first when needed), every thread of it
    pinned to `core`, returned once it accepts connections; RuntimeError otherwise."""
    launcher = install()
    raise_file_limit()
    log = launcher.parent / "server.log"
    with log.open("w") as err:
        process = subprocess.Popen(["node", str(launcher), str(port)], cwd=launcher.parent,
                                   stdout=subprocess.DEVNULL, stderr=err)
    server = Server(process)
    pin(server.pid, core)
    deadline = time.monotonic() + timeout
    while process.poll() is None and time.monotonic() < deadline:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            break
        except OSError:
            time.sleep(0.05)
    else:
        stop_server(server)
        raise RuntimeError(f"PeerJS did not start on port {port}: {log.read_text()[-500:]}")
    # Node starts its helper threads (V8 platform, libuv) before it listens: pin them too.
    for task in Path(f"/proc/{server.pid}/task").iterdir():
        pin(int(task.name), core)
    return server


async def open_peer(session: aiohttp.ClientSession, base: str, peer_id: str,
                    token: str = "bench") -> aiohttp.ClientWebSocketResponse:
    """A PeerJS client socket for `peer_id`, returned once the server answered OPEN."""
    ws = await session.ws_connect(f"{base}/peerjs?key=peerjs&id={peer_id}&token={token}",
                                  heartbeat=None, max_msg_size=0, compress=0)
    frame = await ws.receive()
    if frame.type != aiohttp.WSMsgType.TEXT or json.loads(frame.data).get("type") != "OPEN":
        await ws.close()
        raise RuntimeError(f"PeerJS refused {peer_id}: {str(frame.data)[:200]}")
    return ws


def connect_for(base: str) -> Callable[[aiohttp.ClientSession, int, str], Awaitable[aiohttp.ClientWebSocketResponse]]:
    """`bench.signaling`'s connector for pairs on PeerJS at `base`."""
    def connect(session: aiohttp.ClientSession, _pair: int, peer: str) -> Awaitable[aiohttp.ClientWebSocketResponse]:
        return open_peer(session, base, peer)
    return connect


async def _check() -> None:
    port = free_port()
    server = start(port)
    base = f"http://127.0.0.1:{port}"
    try:
        async with aiohttp.ClientSession() as session:
            a, b = await open_peer(session, base, "a"), await open_peer(session, base, "b")
            sent = time.perf_counter()
            await a.send_str(json.dumps({"type": "OFFER", "dst": "b", "payload": {"sdp": "v=0"}}))
            relayed = json.loads((await b.receive(timeout=5)).data)
            print(f"peer@{PEER_VERSION} on node {node_version()} at {base}: relayed {relayed} in "
                  f"{(time.perf_counter() - sent) * 1000:.2f} ms")
            await a.close()
            await b.close()
    finally:
        stop_server(server)


if __name__ == "__main__":
    asyncio.run(_check())
