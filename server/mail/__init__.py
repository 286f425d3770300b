"""Email: what a message is made of (addresses.py, message.py) and what sends it
(senders.py). The outbox (server/storage/outbox.py) holds messages until a sender takes
them; server/runtime/outbox_runner.py drains it."""
