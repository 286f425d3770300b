"""A bare WebSocket relay: the floor Visitroom's signaling is measured against.

No authentication, no validation, no rooms beyond a dict: a socket joins with
`/ws?room=R&peer=P`, and every JSON text frame with a `to` field is forwarded, as is, to
that peer of the same room.

    python -m bench.baseline_relay --port 8090
"""

from __future__ import annotations

import argparse
import json

from aiohttp import WSMsgType, web

ROOMS = web.AppKey("rooms", dict)


async def relay(request: web.Request) -> web.StreamResponse:
    room_id, peer = request.query.get("room", ""), request.query.get("peer", "")
    ws = web.WebSocketResponse(max_msg_size=256 * 1024, compress=False)
    await ws.prepare(request)
    room = request.app[ROOMS].setdefault(room_id, {})
    room[peer] = ws
    try:
        async for frame in ws:
            if frame.type != WSMsgType.TEXT:
                continue
            target = room.get(json.loads(frame.data).get("to"))
            if target is not None and not target.closed:
                await target.send_str(frame.data)
    finally:
        room.pop(peer, None)
        if not room:
            request.app[ROOMS].pop(room_id, None)
    return ws


def create_app() -> web.Application:
    app = web.Application()
    app[ROOMS] = {}
    app.router.add_get("/ws", relay)
    return app


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description="bare WebSocket relay (benchmark baseline)")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8090)
    args = parser.parse_args()
    try:
        import uvloop

        uvloop.install()
    except ImportError:
        pass
    web.run_app(create_app(), host=args.host, port=args.port, access_log=None, print=None)
