"""Logging for a Visitroom process: one format, and libraries that would log too much kept quiet.

Logs carry ids, never names, tokens or IP addresses (a patient's address is a HIPAA
identifier). The libraries below log those at INFO or DEBUG, so they log at WARNING
whatever level the process runs at.
"""

from __future__ import annotations

import logging

QUIET_LOGGERS = {
    "aiosqlite": "its debug lines quote SQL parameters, which include names",
    "aioice": "its candidate pairs and checks carry patients' IP addresses",
    "aiortc": "its transports log candidates and addresses",
    "psycopg": "its pool logs every connection it lends, at INFO",
}
"""Loggers held at WARNING, and why."""


def configure_logging(level: int) -> None:
    """Log to stderr at `level`, with the quiet loggers at WARNING."""
    logging.basicConfig(level=level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    quiet_libraries()


def quiet_libraries() -> None:
    """Hold the libraries of QUIET_LOGGERS at WARNING (however logging was set up)."""
    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.WARNING)
