"""Headless Firefox ESR (Debian's /usr/bin/firefox-esr) driven through Marionette, with fake media.

marionette-driver is synchronous: a test drives `Firefox` from a worker thread
(`await asyncio.to_thread(...)`, or the `AsyncFirefox` wrapper) beside its async
Playwright pages. Every wait here is bounded.
"""

from __future__ import annotations

import asyncio
import json
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any, Callable

from marionette_driver.marionette import Marionette

FIREFOX = "/usr/bin/firefox-esr"

# The tests run with only a loopback interface: every pref that would have Firefox phone home
# (updates, telemetry, studies, remote settings, safe browsing, captive portal checks, ...)
# is off, so nothing waits on a connection that cannot be made.
QUIET_PREFS: dict[str, Any] = {
    "app.update.disabledForTesting": True,
    "app.update.auto": False,
    "app.update.checkInstallTime": False,
    "app.normandy.enabled": False,
    "app.normandy.api_url": "",
    "app.shield.optoutstudies.enabled": False,
    "browser.aboutwelcome.enabled": False,
    "browser.newtabpage.enabled": False,
    "browser.ping-centre.telemetry": False,
    "browser.region.network.url": "",
    "browser.region.update.enabled": False,
    "browser.safebrowsing.blockedURIs.enabled": False,
    "browser.safebrowsing.downloads.enabled": False,
    "browser.safebrowsing.downloads.remote.enabled": False,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "browser.safebrowsing.update.enabled": False,
    "browser.search.update": False,
    "browser.shell.checkDefaultBrowser": False,
    "browser.startup.homepage_override.mstone": "ignore",
    "browser.startup.page": 0,
    "browser.tabs.warnOnClose": False,
    "browser.topsites.contile.enabled": False,
    "browser.newtabpage.activity-stream.feeds.system.topstories": False,
    "browser.newtabpage.activity-stream.feeds.snippets": False,
    "browser.urlbar.suggest.quicksuggest.sponsored": False,
    "datareporting.healthreport.uploadEnabled": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "extensions.blocklist.enabled": False,
    "extensions.getAddons.cache.enabled": False,
    "extensions.update.enabled": False,
    "geo.provider.network.url": "",
    "identity.fxaccounts.enabled": False,
    "media.gmp-manager.updateEnabled": False,
    "media.gmp-manager.url": "",
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "network.dns.disablePrefetch": True,
    "network.http.speculative-parallel-limit": 0,
    "network.prefetch-next": False,
    "network.trr.mode": 5,
    "security.OCSP.enabled": 0,
    "services.settings.server": "",
    "toolkit.telemetry.enabled": False,
    "toolkit.telemetry.server": "",
    "toolkit.telemetry.unified": False,
    "toolkit.startup.max_resumed_crashes": -1,
}

# A fake camera and microphone without a permission prompt, and peers that meet on 127.0.0.1
# with real host addresses (no mDNS names, which nothing in the namespace could resolve).
#
# Until a page captures a camera or microphone (or holds a stored permission for them), Firefox
# gathers ICE candidates on the "default address" only: the source address of a UDP socket
# connected to a public resolver address. With only a loopback interface there is no route, so
# it finds none and gathers nothing at all. Fake devices do not count as capturing unless
# media.navigator.permission.fake is set; with it the fake camera lifts the restriction as a
# real one does for a patient, and every local address (127.0.0.1 and ::1, allowed by
# ice.loopback) is gathered.
MEDIA_PREFS: dict[str, Any] = {
    "media.navigator.streams.fake": True,
    "media.navigator.permission.disabled": True,
    "media.navigator.permission.fake": True,
    "media.peerconnection.ice.loopback": True,
    "media.peerconnection.ice.obfuscate_host_addresses": False,
}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _user_js(prefs: dict[str, Any]) -> str:
    return "".join(f"user_pref({json.dumps(name)}, {json.dumps(value)});\n"
                   for name, value in prefs.items())


class Firefox:
    """One headless Firefox with a fresh temporary profile; a synchronous Marionette client."""

    def __init__(self, *, prefs: dict[str, Any] | None = None, startup_seconds: float = 60) -> None:
        self.prefs = {**QUIET_PREFS, **MEDIA_PREFS, **(prefs or {})}
        self.startup_seconds = startup_seconds
        self.profile: Path | None = None
        self.process: subprocess.Popen[bytes] | None = None
        self.client: Marionette | None = None

    # -- life cycle ---------------------------------------------------------------------

    def start(self) -> "Firefox":
        """Write the profile, start Firefox and open a Marionette session (bounded)."""
        if not Path(FIREFOX).exists():
            raise RuntimeError(f"{FIREFOX} is missing: tests/run.sh installs firefox-esr")
        self.profile = Path(tempfile.mkdtemp(prefix="visitroom-firefox-"))
        port = _free_port()
        (self.profile / "user.js").write_text(_user_js({**self.prefs, "marionette.port": port}))
        self.process = subprocess.Popen(
            [FIREFOX, "-headless", "-marionette", "-no-remote", "-profile", str(self.profile),
             "about:blank"],
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        self.client = Marionette(host="127.0.0.1", port=port, socket_timeout=60,
                                 startup_timeout=int(self.startup_seconds))
        self.client.start_session(timeout=self.startup_seconds)
        self.client.timeout.page_load = 20
        self.client.timeout.script = 15
        return self

    def stop(self) -> None:
        """End the session, stop Firefox (killed if it lingers) and remove the profile."""
        if self.client is not None:
            try:
                self.client.delete_session()
            except Exception:  # noqa: BLE001 - the browser may already be gone
                pass
            self.client.cleanup_ran = True  # its __del__ would try again
            self.client = None
        if self.process is not None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait(timeout=10)
            self.process = None
        if self.profile is not None:
            shutil.rmtree(self.profile, ignore_errors=True)
            self.profile = None

    def __enter__(self) -> "Firefox":
        try:
            return self.start()
        except BaseException:
            self.stop()
            raise

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- the page -----------------------------------------------------------------------

    @property
    def marionette(self) -> Marionette:
        assert self.client is not None, "Firefox is not started"
        return self.client

    def goto(self, url: str) -> None:
        """Navigate and wait for the load (page_load timeout)."""
        self.marionette.navigate(url)

    def evaluate(self, script: str, *args: Any) -> Any:
        """Run `script` (a function body using `arguments`) in the page itself and return its value."""
        return self.marionette.execute_script(script, script_args=list(args), sandbox=None,
                                              new_sandbox=False)

    def wait_until(self, expression: str, timeout: float = 15.0, *args: Any) -> Any:
        """Poll a JS expression in the page until it is truthy; returns its value."""
        deadline = time.monotonic() + timeout
        while True:
            value = self.evaluate(f"return ({expression});", *args)
            if value:
                return value
            if time.monotonic() > deadline:
                raise AssertionError(f"Firefox: still false after {timeout}s: {expression}")
            time.sleep(0.1)

    def click(self, selector: str, timeout: float = 15.0) -> None:
        """Wait until the element is shown, then click it as a user does (a real input event)."""
        self.wait_until("(e => e && e.offsetParent !== null && !e.disabled)(document.querySelector(arguments[0]))",
                        timeout, selector)
        self.marionette.find_element("css selector", selector).click()

    def fill(self, selector: str, text: str) -> None:
        """Type `text` into a field (replacing what it held) as a user does."""
        self.wait_until("document.querySelector(arguments[0])", 15.0, selector)
        field = self.marionette.find_element("css selector", selector)
        field.clear()
        field.send_keys(text)

    def attribute(self, selector: str, name: str) -> str | None:
        """An attribute of the first element matching `selector` (None when absent)."""
        return self.evaluate("const e = document.querySelector(arguments[0]);"
                             "return e ? e.getAttribute(arguments[1]) : null;", selector, name)

    def screenshot(self, path: Path) -> None:
        """Save a PNG of the viewport."""
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(self.marionette.screenshot(format="binary"))


class AsyncFirefox:
    """`Firefox` for async tests: each call runs in a worker thread, one at a time."""

    def __init__(self, **kwargs: Any) -> None:
        self.sync = Firefox(**kwargs)
        self._lock = asyncio.Lock()

    async def _call(self, fn: Callable[..., Any], *args: Any, **kwargs: Any) -> Any:
        async with self._lock:  # Marionette's socket serves one command at a time
            return await asyncio.to_thread(fn, *args, **kwargs)

    async def __aenter__(self) -> "AsyncFirefox":
        try:
            await self._call(self.sync.start)
        except BaseException:
            await asyncio.to_thread(self.sync.stop)
            raise
        return self

    async def __aexit__(self, *exc: Any) -> None:
        await asyncio.to_thread(self.sync.stop)

    async def goto(self, url: str) -> None:
        await self._call(self.sync.goto, url)

    async def evaluate(self, script: str, *args: Any) -> Any:
        return await self._call(self.sync.evaluate, script, *args)

    async def wait_until(self, expression: str, timeout: float = 15.0, *args: Any) -> Any:
        return await self._call(self.sync.wait_until, expression, timeout, *args)

    async def click(self, selector: str, timeout: float = 15.0) -> None:
        await self._call(self.sync.click, selector, timeout)

    async def fill(self, selector: str, text: str) -> None:
        await self._call(self.sync.fill, selector, text)

    async def attribute(self, selector: str, name: str) -> str | None:
        return await self._call(self.sync.attribute, selector, name)

    async def screenshot(self, path: Path) -> None:
        await self._call(self.sync.screenshot, path)
