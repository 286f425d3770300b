"""What sealing costs per cluster-bus message: seal and open of an offer and a candidate.

    python -m bench.bus_seal [--runs 20000]

Envelopes as the Redis bus builds them (`signaling.redis_bus` `send`): a delivered offer of
about 3 KB of SDP, and a candidate of about 200 B. Prints microseconds per message to seal,
to open, and both, and the size on the bus before and after (base64url grows it by a third).
"""

from __future__ import annotations

import argparse
import os
import timeit

import msgspec

from signaling.bus_seal import EnvelopeSeal
from signaling.cluster_messages import Deliver, seal_ready

NODE, ROOM = "n0123456789ab", "v_0123456789abcdef"


def _envelope(message: dict[str, object]) -> bytes:
    # A relayed message travels as the JSON text its receiver gets (`protocol.relayed_text`).
    return seal_ready("nfedcba987654", 12345, 1_765_000_000,
                      Deliver(f"{NODE}.c_0123456789ab", msgspec.json.encode(message).decode()))


def envelopes() -> dict[str, bytes]:
    """A typical offer (~3 KB) and candidate (~200 B) delivery, encoded as the bus does."""
    line = "a=candidate:1 1 udp 2130706431 192.0.2.10 54321 typ host generation 0\r\n"
    sdp = ("v=0\r\no=- 3912345678 3912345678 IN IP4 0.0.0.0\r\ns=-\r\nt=0 0\r\n"
           + "a=rtpmap:96 VP8/90000\r\na=rtcp-fb:96 nack\r\n" * 40 + line * 12)
    offer = _envelope({"type": "offer", "from": "p_0123456789abcdef", "sdp": sdp[:2900]})
    candidate = _envelope({"type": "candidate", "from": "p_0123456789abcdef", "candidate": {
        "candidate": line[2:-2], "sdpMid": "0", "sdpMLineIndex": 0}})
    return {"offer": offer, "candidate": candidate}


def measure(runs: int) -> dict[str, dict[str, float]]:
    """Microseconds per seal, per open and per both, and sizes, for each envelope."""
    key = os.urandom(32)
    sender, receiver = EnvelopeSeal(key), EnvelopeSeal(key)  # two processes of a group
    figures: dict[str, dict[str, float]] = {}
    for name, plain in envelopes().items():
        sealed = sender.seal(plain, NODE, ROOM)
        receiver.open(sealed, NODE, ROOM)  # its subkey derived once, as in a running group
        seal_s = min(timeit.repeat(lambda: sender.seal(plain, NODE, ROOM), number=runs, repeat=5))
        open_s = min(timeit.repeat(lambda: receiver.open(sealed, NODE, ROOM), number=runs,
                                   repeat=5))
        figures[name] = {"bytes": len(plain), "sealed_bytes": len(sealed),
                         "seal_us": seal_s / runs * 1e6, "open_us": open_s / runs * 1e6,
                         "both_us": (seal_s + open_s) / runs * 1e6}
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20_000)
    args = parser.parse_args()
    for name, f in measure(args.runs).items():
        print(f"{name:9} {f['bytes']:5.0f} B -> {f['sealed_bytes']:5.0f} B sealed: "
              f"seal {f['seal_us']:.1f} us, open {f['open_us']:.1f} us, "
              f"both {f['both_us']:.1f} us per message")


if __name__ == "__main__":
    main()
