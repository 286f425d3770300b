"""Server settings: one dataclass, filled from command-line flags and VISITROOM_* variables."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from ipaddress import ip_address
from pathlib import Path
from typing import Any, Mapping, get_type_hints
from urllib.parse import urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import msgspec

from server.mail.addresses import is_from_address

ENV_PREFIX = "VISITROOM_"
BUSES = ("local", "redis")
"""Router implementations the server can run (see signaling.router)."""
SMTP_SECURITY = ("starttls", "tls", "none")
"""How the outbox's SMTP connection is protected (see `Config.smtp_security`)."""


class ConfigError(ValueError):
    """A setting has a value the server cannot use."""


@dataclass(frozen=True)
class Config:
    """Everything the server needs to know at start."""

    host: str = "127.0.0.1"
    """Address the HTTP server binds to."""
    port: int = 8080
    """TCP port the HTTP server listens on."""
    db: Path = Path("var/visitroom.db")
    """SQLite database file; created with its folder on first start."""
    db_busy_seconds: int = 5
    """How long a request waits for a database lock another process holds (then 503)."""
    database_url: str = field(default="", repr=False)
    """postgresql:// (or postgres://) URL of a PostgreSQL database to use instead of the
    SQLite file `db`; empty: SQLite. It may carry a password, so it is never shown."""
    public_url: str = ""
    """Base URL patients and therapists reach the server at; defaults to http://host:port."""
    issuer: str = "visitroom"
    """`iss` claim of visit links."""
    early_join_minutes: int = 15
    """How long before a visit's start its links open."""
    grace_minutes: int = 30
    """How long after a visit's end its links keep working."""
    timezone: str = "UTC"
    """The clinic's time zone, for times shown on pages and in messages."""
    admin_email: str = "admin@visitroom.local"
    """Login of the admin account created on first start."""
    admin_password: str = field(default="", repr=False)
    """Password for that account; generated and printed once when empty."""
    login_max_failures: int = 20
    """Failed logins in a row that lock an account (a last resort: addresses wait first)."""
    login_lockout_minutes: int = 15
    """How long a locked account stays locked, and the window of the address limit."""
    login_address_failures: int = 5
    """Failed logins from one client address within the lockout window before it must wait."""
    login_global_per_minute: int = 60
    """Login attempts a minute the whole server checks; more wait (429)."""
    password_threads: int = 1
    """Threads that hash passwords, so that logins never hold up the event loop (one leaves
    the other cores to the event loop and the echo peers)."""
    trusted_proxies: str = ""
    """Reverse proxies (IP addresses, comma-separated) whose X-Forwarded-For names the client."""
    health_loopback: bool = False
    """/healthz shows its counts to a request straight over loopback with no forwarding
    header (a monitor or benchmark on this machine). Off by default: a proxy on this
    machine that forwards without X-Forwarded-For would otherwise show them to everyone."""
    staff_session_hours: int = 12
    """Lifetime of an admin's or therapist's login."""
    stun: str = ""
    """STUN URLs for browsers, comma-separated (e.g. stun:stun.clinic.example:3478)."""
    turn_url: str = ""
    """TURN URLs, comma-separated (turn: or turns:)."""
    turn_secret: str = field(default="", repr=False)
    """coturn's static-auth-secret; TURN credentials are minted per participant from it."""
    turn_credential_seconds: int = 600
    """How long a TURN credential lasts; only admitted participants get one, renewed every
    half of this while they are in the call (see docs/protocol.md, "ICE servers")."""
    heartbeat_seconds: int = 20
    """WebSocket ping interval; a socket silent for 1.5 times this is dropped."""
    flood_rate: int = 50
    """Messages per second a socket may send, sustained, before it is closed (1008)."""
    chat_store: bool = False
    """Keep the chat of calls and waiting rooms with the visit (admin visit page, API);
    off: chat lives only in the room's memory while the visit lasts."""
    echo_max_sessions: int = 4
    """Pre-call echo checks that may run at once."""
    echo_seconds: int = 60
    """How long an echo check may last."""
    echo_connect_seconds: int = 10
    """An echo check not connected within this many seconds is dropped."""
    echo_per_visit: int = 2
    """Echo checks that may run at once for one visit (each participant has one at most)."""
    library_dir: Path = Path(__file__).resolve().parent.parent / "library"
    """Folder of the condition library's content files."""
    emergency_number: str = "999"
    """The number the library's warning signs tell a patient to call in an emergency, in every
    language (VISITROOM_EMERGENCY_NUMBER): 999 by default, as the signs' UK sources say; a clinic in
    the US sets 911, one in Spain or elsewhere in the EU 112. Digits only, 2 to 6."""
    program_days: int = 90
    """How long after a visit the patient can reopen her home program."""
    clinic_name: str = "Visitroom"
    """The clinic's name on patients' pages and in their emails until the admin sets one
    (/admin/settings, docs/clinic.md)."""
    reminder_seconds: int = 60
    """How often reminders due are composed into the outbox (a group does it once a period)."""
    plan_grace_days: int = 30
    """How long after a plan of care's expected end her plan link still opens her home page."""
    visit_reminder_minutes: str = "1440,60"
    """When email reminders of a visit go out: minutes before it starts, comma-separated
    (default a day and an hour before); empty: none."""
    housekeeping_seconds: int = 3600
    """Period of housekeeping (forgetting expired logins, spent revocations, old jobs): a
    group of processes runs it once a period (1 to 86400)."""
    job_lease_seconds: int = 60
    """How long a process holds a job without renewing its lease; a job whose process died
    goes to another this long after it stopped renewing (2 to 3600)."""
    bus: str = "local"
    """Where rooms live: 'local' (this process) or 'redis' (several processes share rooms
    through VISITROOM_REDIS_URL); setting the URL alone chooses 'redis'."""
    redis_url: str = field(default="", repr=False)
    """redis:// (or rediss://, unix://) URL of the Redis that processes share rooms through;
    empty: rooms stay in this process. It may carry a password, so it is never shown."""
    ice_loopback: bool = False
    """The server's aiortc peers offer only 127.0.0.1 (when every peer runs on this machine)."""
    ice_relay_only: bool = False
    """Calls go through the TURN server only (ICE transport policy "relay"), so neither side
    of a call learns the other's addresses; needs turn_url and turn_secret."""
    certfile: str = ""
    """PEM certificate chain: serve HTTPS directly (no reverse proxy) when set with keyfile."""
    keyfile: str = field(default="", repr=False)
    """PEM private key of that certificate."""
    smtp_host: str = ""
    """SMTP server the outbox sends email through; empty: no email is sent (messages wait
    in the outbox, and /admin/outbox says so)."""
    smtp_port: int = 587
    """Its port (587 for STARTTLS, 465 for TLS from the start, 25 for a local relay)."""
    smtp_security: str = "starttls"
    """'starttls' (required), 'tls' (TLS from the first byte) or 'none' (plain text: only
    for a relay on this machine)."""
    smtp_username: str = field(default="", repr=False)
    """Login at the SMTP server; empty: none."""
    smtp_password: str = field(default="", repr=False)
    """Its password; never shown."""
    smtp_from: str = ""
    """The From of every email, e.g. `Harbor Physio <reminders@harbor.example>`; needed
    with smtp_host (its domain also ends each Message-ID)."""
    smtp_timeout_seconds: int = 30
    """How long one SMTP command may wait; a whole send is also cut off at half the lease
    of its outbox row (`job_lease_seconds`)."""
    outbox_test_pause_seconds: float = 0.0
    """Tests only: how long the outbox runner waits between claiming a message and sending
    it (so a test can kill the process there)."""

    def __post_init__(self) -> None:
        if bool(self.certfile) != bool(self.keyfile):
            raise ConfigError("certfile and keyfile go together: give both or neither")
        if not self.public_url:
            scheme = "https" if self.certfile else "http"
            object.__setattr__(self, "public_url", f"{scheme}://{self.host}:{self.port}")
        object.__setattr__(self, "public_url", self.public_url.rstrip("/"))
        object.__setattr__(self, "db", Path(self.db))
        object.__setattr__(self, "library_dir", Path(self.library_dir))
        if not (self.emergency_number.isascii() and self.emergency_number.isdigit()
                and 2 <= len(self.emergency_number) <= 6):
            raise ConfigError(f"emergency_number must be 2 to 6 digits (911, 112, 999), got {self.emergency_number!r}")
        if not self.public_url.startswith(("http://", "https://")):
            raise ConfigError(f"public_url must start with http:// or https://, got {self.public_url!r}")
        if not 0 < self.port < 65536:
            raise ConfigError(f"port must be 1..65535, got {self.port}")
        for name in ("early_join_minutes", "grace_minutes", "login_max_failures",
                     "login_lockout_minutes", "staff_session_hours", "echo_max_sessions",
                     "program_days", "plan_grace_days"):
            if getattr(self, name) < 0:
                raise ConfigError(f"{name} must not be negative")
        for name in ("heartbeat_seconds", "flood_rate", "echo_seconds", "db_busy_seconds",
                     "login_max_failures", "login_address_failures", "login_global_per_minute",
                     "password_threads", "turn_credential_seconds",
                     "echo_connect_seconds", "echo_per_visit", "reminder_seconds"):
            if getattr(self, name) < 1:
                raise ConfigError(f"{name} must be at least 1")
        for name, low, high in (("housekeeping_seconds", 1, 86400),
                                ("job_lease_seconds", 2, 3600)):
            if not low <= getattr(self, name) <= high:
                raise ConfigError(f"{name} must be {low} to {high}, got {getattr(self, name)}")
        if self.redis_url and self.bus == "local":
            object.__setattr__(self, "bus", "redis")
        if self.bus not in BUSES:
            raise ConfigError(f"bus must be one of {', '.join(BUSES)}, got {self.bus!r}")
        if self.bus == "redis" and not self.redis_url:
            raise ConfigError("bus 'redis' needs VISITROOM_REDIS_URL (redis://host:port/db)")
        if self.database_url and not self.database_url.startswith(("postgresql://", "postgres://")):
            raise ConfigError("VISITROOM_DATABASE_URL must start with postgresql:// or postgres://")
        if self.redis_url and not self.redis_url.startswith(("redis://", "rediss://", "unix://")):
            raise ConfigError("VISITROOM_REDIS_URL must start with redis://, rediss:// or unix://")
        for url in self.stun_urls:
            if not url.startswith(("stun:", "stuns:")):
                raise ConfigError(f"STUN URLs start with stun: or stuns:, got {url!r}")
        for url in self.turn_urls:
            if not url.startswith(("turn:", "turns:")):
                raise ConfigError(f"TURN URLs start with turn: or turns:, got {url!r}")
        if self.smtp_security not in SMTP_SECURITY:
            raise ConfigError(f"smtp_security must be one of {', '.join(SMTP_SECURITY)}, "
                              f"got {self.smtp_security!r}")
        if self.smtp_host and not is_from_address(self.smtp_from):
            raise ConfigError("VISITROOM_SMTP_HOST needs VISITROOM_SMTP_FROM: one address, "
                              "e.g. 'Harbor Physio <reminders@harbor.example>'")
        if not 0 < self.smtp_port < 65536 or self.smtp_timeout_seconds < 1:
            raise ConfigError("smtp_port must be 1..65535 and smtp_timeout_seconds at least 1")
        if self.outbox_test_pause_seconds < 0:
            raise ConfigError("outbox_test_pause_seconds must not be negative")
        if self.ice_relay_only and not (self.turn_urls and self.turn_secret):
            raise ConfigError("ice_relay_only (VISITROOM_ICE_RELAY_ONLY) needs a TURN server: "
                              "set VISITROOM_TURN_URL and VISITROOM_TURN_SECRET")
        try:
            ZoneInfo(self.timezone)
        except (ZoneInfoNotFoundError, ValueError) as exc:
            raise ConfigError(f"unknown time zone {self.timezone!r}") from exc
        try:
            offsets = self.visit_reminder_offsets
        except ValueError:
            offsets = ()
        if len(offsets) != len([p for p in self.visit_reminder_minutes.split(",") if p.strip()]) \
                or any(not 1 <= m <= MAX_REMINDER_MINUTES for m in offsets):
            raise ConfigError("visit_reminder_minutes must be minutes before a visit, 1 to "
                              f"{MAX_REMINDER_MINUTES}, comma-separated (e.g. 1440,60), got "
                              f"{self.visit_reminder_minutes!r}")

    @property
    def tls(self) -> bool:
        """The server itself speaks HTTPS."""
        return bool(self.certfile)

    @property
    def public_host(self) -> str:
        """Host name or address of the public URL (no port, no brackets)."""
        return urlsplit(self.public_url).hostname or ""

    @property
    def camera_needs_https(self) -> bool:
        """The public URL is plain http on a host other than this machine: browsers on other
        devices refuse the camera there (they allow it only on https or localhost)."""
        if not self.public_url.startswith("http://"):
            return False
        host = self.public_host
        if host == "localhost" or host.endswith(".localhost"):
            return False
        try:
            return not ip_address(host).is_loopback
        except ValueError:
            return True

    @property
    def secure_cookies(self) -> bool:
        """Cookies carry `Secure` when the public URL is https."""
        return self.public_url.startswith("https://")

    @property
    def stun_urls(self) -> tuple[str, ...]:
        """The STUN URLs as a tuple."""
        return tuple(u.strip() for u in self.stun.split(",") if u.strip())

    @property
    def turn_urls(self) -> tuple[str, ...]:
        """The TURN URLs as a tuple."""
        return tuple(u.strip() for u in self.turn_url.split(",") if u.strip())

    @property
    def origin(self) -> str:
        """scheme://host[:port] of the public URL: the only Origin the WebSocket accepts."""
        scheme, rest = self.public_url.split("://", 1)
        return f"{scheme}://{rest.split('/', 1)[0]}"

    @property
    def visit_reminder_offsets(self) -> tuple[int, ...]:
        """Minutes before a visit at which its reminders go out, largest first."""
        return tuple(sorted({int(p) for p in self.visit_reminder_minutes.split(",")
                             if p.strip()}, reverse=True))

    @property
    def tz(self) -> ZoneInfo:
        """The clinic's time zone object."""
        return ZoneInfo(self.timezone)

    def with_overrides(self, **changes: Any) -> "Config":
        """A copy with some settings changed (None values are ignored)."""
        return replace(self, **{k: v for k, v in changes.items() if v is not None})


_BOOL_WORDS = {"1": True, "true": True, "yes": True, "on": True,
               "0": False, "false": False, "no": False, "off": False}
_KIND_WORDS = {int: "a whole number", bool: "true or false (1/0, yes/no, on/off)"}


MAX_REMINDER_MINUTES = 14 * 24 * 60
"""The earliest a visit reminder may go out: two weeks before."""


def config_from_env(environ: Mapping[str, str] | None = None, **overrides: Any) -> Config:
    """Build a Config from VISITROOM_* variables, then apply explicit overrides (flags win).

    Each variable is read as its field's type through msgspec (the same conversion the
    API's schemas use), so a value of the wrong kind is refused with its variable named.
    """
    environ = os.environ if environ is None else environ
    types = get_type_hints(Config)
    values: dict[str, Any] = {}
    for f in fields(Config):
        name = ENV_PREFIX + f.name.upper()
        raw = environ.get(name)
        if raw is None or raw == "":
            continue
        kind = str if types[f.name] is Path else types[f.name]  # Config makes it a Path
        value: Any = raw if kind is str else raw.strip()
        if kind is bool:
            value = _BOOL_WORDS.get(value.lower(), value)
        try:
            values[f.name] = msgspec.convert(value, kind, strict=False)
        except msgspec.ValidationError:
            raise ConfigError(f"{name} must be {_KIND_WORDS.get(kind, 'a ' + kind.__name__)}, "
                              f"got {raw!r}") from None
    values.update({k: v for k, v in overrides.items() if v is not None})
    return Config(**values)
