"""`run.py serve --workers N`: a supervisor and N worker processes sharing one port.

The supervisor prepares once (migrations, the admin account, the demo visit: `serve`
does that before calling `supervise`), then starts N workers. Each worker is a fresh
Python process (`python -m server.runtime.workers`, so a rolling restart runs the code on disk
now) that reads its settings from the supervisor through a pipe (so flags given to the
supervisor, `--turn-secret` say, never appear in a worker's command line), binds
host:port with SO_REUSEPORT and serves the whole application; the kernel spreads
connections across them. Rooms are shared through the Redis router, so any worker serves
any visit.

Signals to the supervisor:
- SIGTERM / SIGINT: every worker drains (hands its rooms over, tells its sockets to
  reconnect) and exits; then the supervisor exits 0.
- SIGHUP: rolling restart. Each worker in turn: its replacement starts and says it is
  ready, then the old one drains and exits. Calls move between workers and go on.
A worker that dies is started again, backing off; one that keeps dying before it lived
STEADY_SECONDS stops the whole server (a broken configuration or database). A worker
whose supervisor vanished (its settings pipe closes) drains and exits too.
"""

from __future__ import annotations

import asyncio
import logging
import os
import pickle
import signal
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Coroutine

from aiohttp import web

from server.http.access_log import AccessLogger
from server.app import create_app
from server.runtime.config import Config, ConfigError
from server.runtime.event_loop import choose_loop
from server.runtime.logs import quiet_libraries
from server.runtime.process_runtime import settle_memory, tls_context

log = logging.getLogger("server.runtime.workers")  # (also when run as __main__, a worker)

ROOT = Path(__file__).resolve().parents[2]
READY_SECONDS = 60.0
"""How long a new worker may take to open its database, Redis and port."""
STOP_SECONDS = 20.0
"""How long a worker told to stop may take to drain; then it is killed."""
BACKOFF_SECONDS = (0.5, 10.0)
"""First and longest wait before a dead worker is started again."""
STEADY_SECONDS = 30.0
"""A worker that lived this long died of something passing: its slot's count restarts."""
MAX_QUICK_FAILURES = 5
"""Workers of one slot dying young in a row before the supervisor gives up."""


def check_worker_count(config: Config, count: int) -> None:
    """Refuse a worker count the configuration cannot serve (ConfigError)."""
    if count < 1:
        raise ConfigError("--workers must be at least 1")
    if count > 1 and config.bus != "redis":
        raise ConfigError(f"--workers {count} needs Redis to share rooms between the "
                          "processes: set VISITROOM_REDIS_URL (redis://host:port/db)")


def supervise(config: Config, count: int, prepare: Callable[[], object]) -> int:
    """Check the settings, run `prepare` once, then serve with `count` workers until told
    to stop."""
    check_worker_count(config, count)
    create_app(config)  # fails here, before anything is printed, on broken content
    tls_context(config)
    prepare()
    return asyncio.run(Supervisor(config, count).run())


@dataclass
class WorkerSpec:
    """What the supervisor hands a worker through its pipe."""

    config: Config
    """The settings, resolved once by the supervisor (flags, environment, certificate)."""
    index: int
    """The worker's slot, 0..N-1 (for logs)."""


@dataclass
class _Worker:
    index: int
    process: asyncio.subprocess.Process
    started: float = field(default_factory=time.monotonic)
    retiring: bool = False
    """Told to stop on purpose: its exit is not a death to restart."""


class Supervisor:
    """Starts, watches, restarts and stops the worker processes."""

    def __init__(self, config: Config, count: int) -> None:
        self.config = config
        self.count = count
        self.slots: list[_Worker | None] = [None] * count
        self.failures = [0] * count
        self.stopping = asyncio.Event()
        self.hangup = asyncio.Event()
        self.failed = False
        self._tasks: set[asyncio.Task[None]] = set()

    async def run(self) -> int:
        """Serve until SIGTERM/SIGINT (0), or until workers keep dying (1)."""
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, self.stopping.set)
        loop.add_signal_handler(signal.SIGHUP, self.hangup.set)
        started = await asyncio.gather(*(self._spawn(i) for i in range(self.count)))
        if not all(started):
            log.error("workers did not start; stopping")
            self.failed = True
            self.stopping.set()
        for worker in started:
            if worker is not None:
                self._install(worker)
        if not self.failed:
            log.info("serving on port %d with %d workers (supervisor pid=%d)",
                     self.config.port, self.count, os.getpid())
        while not self.stopping.is_set():
            stop = asyncio.ensure_future(self.stopping.wait())
            hup = asyncio.ensure_future(self.hangup.wait())
            await asyncio.wait({stop, hup}, return_when=asyncio.FIRST_COMPLETED)
            stop.cancel()
            hup.cancel()
            if self.hangup.is_set() and not self.stopping.is_set():
                self.hangup.clear()
                await self._roll()
        await self._stop_all()
        return 1 if self.failed else 0

    # -- one worker ------------------------------------------------------------------------

    async def _spawn(self, index: int) -> _Worker | None:
        """Start a worker and wait until it listens; None if it did not."""
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            p for p in (str(ROOT), os.environ.get("PYTHONPATH", "")) if p)}
        process = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "server.runtime.workers", stdin=asyncio.subprocess.PIPE,
            stdout=asyncio.subprocess.PIPE, env=env)
        assert process.stdin is not None and process.stdout is not None
        # The pipe stays open: its end tells the worker that the supervisor is gone.
        process.stdin.write(pickle.dumps(WorkerSpec(self.config, index)))
        try:
            await process.stdin.drain()
            line = await asyncio.wait_for(process.stdout.readline(), READY_SECONDS)
        except (asyncio.TimeoutError, ConnectionError):
            line = b""
        except BaseException:  # the supervisor stops while this one starts: no orphan
            process.kill()
            await process.wait()
            raise
        if line.strip() != b"ready":
            log.error("worker %d (pid %d) did not start", index, process.pid)
            if process.returncode is None:
                process.kill()
            await process.wait()
            return None
        log.info("worker %d ready pid=%d", index, process.pid)
        return _Worker(index, process)

    def _install(self, worker: _Worker) -> None:
        self.slots[worker.index] = worker
        self._track(self._watch(worker))

    def _track(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.ensure_future(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _watch(self, worker: _Worker) -> None:
        """Wait for a worker to exit; start another in its slot if it died."""
        code = await worker.process.wait()
        if worker.retiring or self.stopping.is_set() or self.slots[worker.index] is not worker:
            return
        index = worker.index
        lived = time.monotonic() - worker.started
        self.failures[index] = 1 if lived >= STEADY_SECONDS else self.failures[index] + 1
        if self.failures[index] > MAX_QUICK_FAILURES:
            log.error("worker %d keeps dying (exit %s); stopping the server", index, code)
            self.failed = True
            self.stopping.set()
            return
        delay = min(BACKOFF_SECONDS[0] * 2 ** (self.failures[index] - 1), BACKOFF_SECONDS[1])
        log.warning("worker %d (pid %d) exited with %s after %.0f s; starting another in %.1f s",
                    index, worker.process.pid, code, lived, delay)
        while not self.stopping.is_set():
            try:
                await asyncio.wait_for(self.stopping.wait(), delay)
                return
            except asyncio.TimeoutError:
                pass
            if self.slots[index] is not worker:  # a rolling restart filled the slot
                return
            replacement = await self._spawn(index)
            if replacement is not None and (self.slots[index] is not worker
                                            or self.stopping.is_set()):
                await self._retire(replacement)  # a rolling restart or a stop came first
                return
            if replacement is not None:
                self._install(replacement)
                return
            self.failures[index] += 1
            if self.failures[index] > MAX_QUICK_FAILURES:
                log.error("worker %d does not start; stopping the server", index)
                self.failed = True
                self.stopping.set()
                return
            delay = min(delay * 2, BACKOFF_SECONDS[1])

    async def _retire(self, worker: _Worker) -> None:
        """Ask a worker to drain and exit (SIGTERM); kill it if it takes too long."""
        worker.retiring = True
        if worker.process.returncode is not None:
            return
        worker.process.send_signal(signal.SIGTERM)
        try:
            await asyncio.wait_for(worker.process.wait(), STOP_SECONDS)
        except asyncio.TimeoutError:
            log.warning("worker %d (pid %d) did not stop in %.0f s; killing it",
                        worker.index, worker.process.pid, STOP_SECONDS)
            worker.process.kill()
            await worker.process.wait()
        log.info("worker %d (pid %d) stopped", worker.index, worker.process.pid)

    # -- all workers ---------------------------------------------------------------------

    async def _roll(self) -> None:
        """Replace every worker in turn: the new one listens before the old one drains."""
        log.info("rolling restart of %d workers", self.count)
        for index in range(self.count):
            if self.stopping.is_set():
                return
            old = self.slots[index]
            if old is not None:
                old.retiring = True  # (a death meanwhile is this restart's to mend)
            new = await self._spawn(index)
            if new is None:
                log.error("the new worker %d did not start; rolling restart stopped", index)
                if old is not None:
                    old.retiring = False
                    if old.process.returncode is not None:  # it died meanwhile: mend it
                        self._track(self._watch(old))
                return
            self._install(new)
            if old is not None:
                await self._retire(old)
        log.info("rolling restart done")

    async def _stop_all(self) -> None:
        workers = [w for w in self.slots if w is not None]
        await asyncio.gather(*(self._retire(w) for w in workers))
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)


# -- the worker process ----------------------------------------------------------------------


def worker_main() -> int:
    """A worker: read the settings from the supervisor, serve until told to stop."""
    # stdout is the ready line's alone; anything printed goes to stderr with the logs.
    ready_fd = os.dup(1)
    os.dup2(2, 1)
    spec: WorkerSpec = pickle.load(sys.stdin.buffer)
    _worker_logging(spec.index)
    try:
        choose_loop()  # the same loop as `serve` (the supervisor checked the setting)
        return asyncio.run(_serve_worker(spec, ready_fd))
    except (ConfigError, OSError) as exc:
        log.error("worker %d cannot serve: %s", spec.index, exc)
        return 2


def _worker_logging(index: int) -> None:
    logging.basicConfig(level=logging.INFO, format=(
        f"%(asctime)s %(levelname)s worker={index} pid=%(process)d %(name)s: %(message)s"))
    quiet_libraries()


async def _serve_worker(spec: WorkerSpec, ready_fd: int) -> int:
    config = spec.config
    runner = web.AppRunner(create_app(config), handle_signals=False,
                           access_log_class=AccessLogger, shutdown_timeout=5.0)
    await runner.setup()
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    try:
        site = web.TCPSite(runner, config.host, config.port, ssl_context=tls_context(config),
                           reuse_port=True)
        await site.start()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.add_signal_handler(sig, stop.set)
        loop.add_signal_handler(signal.SIGHUP, lambda: None)  # the supervisor's to act on

        def supervisor_gone() -> None:
            if not os.read(0, 4096):
                loop.remove_reader(0)
                log.warning("supervisor gone; stopping")
                stop.set()

        loop.add_reader(0, supervisor_gone)
        settle_memory()
        os.write(ready_fd, b"ready\n")
        os.close(ready_fd)
        await stop.wait()
        log.info("draining")
    finally:
        try:
            await asyncio.wait_for(runner.cleanup(), STOP_SECONDS - 5)
        except asyncio.TimeoutError:
            log.warning("shutdown took too long; exiting anyway")
    log.info("stopped")
    return 0


if __name__ == "__main__":
    sys.exit(worker_main())
