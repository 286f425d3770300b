"""What a serving process sets up for itself, whether it serves alone or as one worker of
`serve --workers N`: the collector settled after start, and its TLS settings."""

from __future__ import annotations

import gc
import ssl

from server.runtime.config import Config, ConfigError


def settle_memory() -> None:
    """Settle the collector once the server has loaded (every worker does it too)."""
    # What is loaded at start (modules, templates, the exercise library) lives as long as
    # the process: move it out of the collector's way, and collect young objects less
    # often, so a server holding thousands of sockets does not pause to walk them all.
    gc.collect()
    gc.freeze()
    gc.set_threshold(20_000, 20, 20)


def tls_context(config: Config) -> ssl.SSLContext | None:
    """The server's TLS settings when it serves HTTPS itself (TLS 1.2 at least)."""
    if not config.tls:
        return None
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(config.certfile, config.keyfile)
    except ssl.SSLError as exc:
        raise ConfigError(f"cannot use {config.certfile} with {config.keyfile}: {exc.reason}") from None
    return context
