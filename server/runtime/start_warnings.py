"""What `run.py serve` warns about as it starts: settings that work but would fail patients."""

from __future__ import annotations

import sys

from server.library.warning_signs import DEFAULT_EMERGENCY_NUMBER
from server.runtime.config import Config


def warn_at_start(config: Config) -> None:
    """Print each warning that applies to these settings on stderr."""
    _warn_plain_http(config)
    _warn_default_emergency_number(config)


def _warn_plain_http(config: Config) -> None:
    if config.camera_needs_https:
        print(f"warning: {config.public_url} is plain http on a host other than this machine. "
              "Browsers allow the camera and microphone only on https pages (or on localhost), so "
              "people opening visit links from other devices cannot be seen or heard. Serve https "
              "(--certfile and --keyfile, or a reverse proxy: docs/deployment.md), or try it out "
              "with --self-signed.", file=sys.stderr)


def _warn_default_emergency_number(config: Config) -> None:
    if config.emergency_number == DEFAULT_EMERGENCY_NUMBER:
        print(f"warning: the warning signs tell patients to call {DEFAULT_EMERGENCY_NUMBER} (the UK's "
              "emergency number). Set VISITROOM_EMERGENCY_NUMBER to your country's (911 in the US, "
              "112 in the EU) before patients use the pages, the Spanish ones above all.",
              file=sys.stderr)
