"""WebRTC signaling: protocol, rooms and waiting room, message bus, WebSocket endpoint, aiortc peer."""
