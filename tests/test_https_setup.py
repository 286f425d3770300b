"""Opened from another device: plain http says why the camera fails; --self-signed serves https."""

from __future__ import annotations

import ssl
import subprocess
import time
from pathlib import Path

from aiohttp import web

from server.app import create_app
from server.runtime.process_runtime import tls_context
from server.runtime.config import Config
from server.runtime.self_signed import ensure_certificate
from tests.browser import Chromium, screenshot, wait_state, wait_until
from tests.helpers import ADMIN_EMAIL, ADMIN_PASSWORD
from tests.live import LiveServer, free_port
from tests.test_cli import run, serve, wait_healthy

HOST = "visits.clinic.test"  # not a loopback name: Chromium maps it to 127.0.0.1
MAP_HOST = f"--host-resolver-rules=MAP {HOST} 127.0.0.1"
INSECURE = "[data-testid=insecure-context]"


async def _server(tmp_path: Path, scheme: str) -> LiveServer:
    port = free_port()
    tls: dict[str, str] = {}
    if scheme == "https":
        made = ensure_certificate(tmp_path / "tls", HOST)
        tls = {"certfile": str(made.certfile), "keyfile": str(made.keyfile)}
    config = Config(db=tmp_path / "v.db", admin_email=ADMIN_EMAIL, admin_password=ADMIN_PASSWORD,
                    port=port, public_url=f"{scheme}://{HOST}:{port}", **tls)
    runner = web.AppRunner(create_app(config), handle_signals=False)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", port, ssl_context=tls_context(config)).start()
    return LiveServer(runner, config.public_url)


async def _open(page, link: str) -> None:
    await page.goto(link)
    await page.wait_for_selector("#call-root[data-ready=true]", state="attached")


async def test_over_plain_http_from_another_host_the_page_asks_for_https_and_joining_works(tmp_path):
    live = await _server(tmp_path, "http")
    try:
        visit = await live.visit()
        async with Chromium(args=[MAP_HOST]) as chromium:
            patient = await chromium.page()
            await _open(patient, await live.link(visit, "patient"))
            assert not await patient.evaluate("window.isSecureContext")
            box = patient.locator(INSECURE)
            await box.wait_for(state="visible")
            text = await box.inner_text()
            assert "https" in text and "clinic" in text
            assert not await patient.locator("#permission-help").is_visible()  # no steps that cannot help
            assert "without camera or microphone" in await patient.locator("[data-testid=join-button]").inner_text()
            await screenshot(patient, "insecure-context-1280")
            therapist = await chromium.page()
            await _open(therapist, await live.link(visit, "therapist"))
            await therapist.click("[data-testid=join-button]")
            await patient.click("[data-testid=join-button]")
            await therapist.click("[data-testid=admit-button]")
            await wait_state(patient, "connected")
            await wait_state(therapist, "connected")
            assert patient.errors == []
    finally:
        await live.close()


async def test_over_https_with_the_self_signed_certificate_the_camera_works(tmp_path):
    live = await _server(tmp_path, "https")
    try:
        visit = await live.visit()
        async with Chromium(args=[MAP_HOST, "--ignore-certificate-errors"]) as chromium:
            patient = await chromium.page()
            await _open(patient, await live.link(visit, "patient"))
            assert patient.url.startswith(f"https://{HOST}:")
            assert await patient.evaluate("window.isSecureContext")
            await wait_until(patient, "document.getElementById('local-video').videoWidth > 0")
            assert not await patient.locator(INSECURE).is_visible()
            assert not await patient.locator("#permission-help").is_visible()
            assert await patient.locator("[data-testid=join-button]").inner_text() == "Join visit"
    finally:
        await live.close()


def _stop(server: subprocess.Popen[str]) -> str:
    server.terminate()
    output, _ = server.communicate(timeout=15)
    return output


def test_serve_warns_when_the_public_url_is_plain_http_on_another_host(tmp_path):
    port = free_port()
    server = serve(tmp_path / "v.db", port, "--public-url", f"http://{HOST}:{port}",
                   output=subprocess.PIPE)
    try:
        wait_healthy(f"http://127.0.0.1:{port}", server)
    finally:
        output = _stop(server)
    assert "warning:" in output and "https" in output and "--self-signed" in output


def test_serve_does_not_warn_on_this_machine_or_over_https(tmp_path):
    for public in ("http://127.0.0.1:{port}", "http://localhost:{port}", "https://" + HOST):
        port = free_port()
        server = serve(tmp_path / "v.db", port, "--public-url", public.format(port=port),
                       output=subprocess.PIPE)
        try:
            wait_healthy(f"http://127.0.0.1:{port}", server)
        finally:
            output = _stop(server)
        assert "is plain http" not in output, public


def test_self_signed_makes_a_certificate_serves_https_and_keeps_it(tmp_path):
    outputs, fingerprints = [], []
    for _ in range(2):
        port = free_port()
        server = serve(tmp_path / "v.db", port, "--self-signed", output=subprocess.PIPE)
        certfile = tmp_path / "tls" / "self-signed-cert.pem"
        try:
            deadline = time.monotonic() + 30
            while not certfile.exists():
                assert server.poll() is None and time.monotonic() < deadline, "no certificate made"
                time.sleep(0.1)
            time.sleep(0.2)  # written in full
            wait_healthy(f"https://127.0.0.1:{port}", server,
                         ssl.create_default_context(cafile=str(certfile)))
        finally:
            outputs.append(_stop(server))
        fingerprints.append(certfile.read_bytes())
    first, second = outputs
    assert "Visitroom at https://127.0.0.1:" in first
    assert "made now" in first and "SHA-256 fingerprint" in first and "Proceed" in first
    assert "kept from before" in second and fingerprints[0] == fingerprints[1]
    assert (tmp_path / "tls" / "self-signed-key.pem").stat().st_mode & 0o077 == 0
    assert "is plain http" not in first


def test_self_signed_certificate_names_the_public_host(tmp_path):
    from cryptography import x509

    made = ensure_certificate(tmp_path, "192.168.1.20")
    cert = x509.load_pem_x509_certificate(made.certfile.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert "192.168.1.20" in [str(ip) for ip in names.get_values_for_type(x509.IPAddress)]
    again = ensure_certificate(tmp_path, HOST)  # another host: a new certificate
    assert again.created and again.fingerprint != made.fingerprint
    cert = x509.load_pem_x509_certificate(again.certfile.read_bytes())
    names = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert HOST in names.get_values_for_type(x509.DNSName)


def test_self_signed_with_a_certificate_of_ones_own_is_refused(tmp_path):
    made = ensure_certificate(tmp_path / "own", "127.0.0.1")
    result = run("serve", "--db", str(tmp_path / "v.db"), "--self-signed",
                 "--certfile", str(made.certfile), "--keyfile", str(made.keyfile))
    assert result.returncode == 2
    assert result.stderr.strip().startswith("error: --self-signed makes its own certificate")
    assert "Traceback" not in result.stderr
    assert not (tmp_path / "tls").exists()


def test_serve_warns_while_the_emergency_number_is_left_at_its_default(capsys):
    from server.runtime.config import Config
    from server.runtime.start_warnings import warn_at_start

    warn_at_start(Config(public_url="http://127.0.0.1:8080"))
    assert "VISITROOM_EMERGENCY_NUMBER" in capsys.readouterr().err
    warn_at_start(Config(public_url="http://127.0.0.1:8080", emergency_number="911"))
    assert capsys.readouterr().err == ""
