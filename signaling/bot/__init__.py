"""The Python participant (`run.py bot`): opens a visit link as a browser does, joins the
call over the same protocol, and measures it; also the connection check from Python.
Used by tests, benchmarks and therapists who want a test patient."""

from signaling.bot.client import VisitClient, VisitClientError, run_bot
from signaling.bot.echo_check import run_echo_check
from signaling.bot.figures import CallFigures, EchoFigures

__all__ = ["CallFigures", "EchoFigures", "VisitClient", "VisitClientError", "run_bot",
           "run_echo_check"]
