"""What an open socket keeps (`bench.idle`): its connection's HTTP side is let go once the
upgrade is answered (signaling/upgraded.py), the page served before it on the same
connection keeps neither body nor headers, and an idle sink holds no queue."""

from __future__ import annotations

import gc

from server.http.templating import PageResponse
from server.keys import ROUTER, SIGNALING
from tests.live import in_call


async def test_an_open_socket_keeps_no_http_parser_cookies_or_101_headers(live):
    await in_call(live)
    sockets = list(live.app[SIGNALING]._open.values())
    assert len(sockets) == 2
    for state in sockets:
        request = state.ws._req
        assert request.protocol._parser is None
        assert not request.protocol._messages and request.protocol._messages.maxlen == 0
        assert "cookies" not in request._cache
        assert not state.ws.headers


async def test_the_page_before_a_socket_on_its_connection_keeps_no_body(live):
    # The test client pools its connections: each socket is upgraded on the connection
    # that served its page, and aiohttp keeps that page as long as the socket.
    await in_call(live)
    pages = [o for o in gc.get_objects() if isinstance(o, PageResponse)]
    assert pages
    assert all(page.body is None and not page.headers for page in pages)


async def test_a_sink_holds_a_queue_only_while_deliveries_wait(live):
    visit, therapist, patient = await in_call(live)
    for n in range(5):
        await patient.send({"type": "chat", "text": f"chat {n}"})
    for n in range(5):
        assert (await therapist.expect("chat"))["text"] == f"chat {n}"
    sinks = [getattr(sink, "sink", sink) for sink in live.app[ROUTER].sinks.values()]
    assert len(sinks) == 2
    assert all(sink.queue is None for sink in sinks)
    assert await therapist.alive() and await patient.alive()
