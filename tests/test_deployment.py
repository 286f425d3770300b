"""Running a clinic's server: backups through SQLite's online API, and HTTPS served directly."""

from __future__ import annotations

import datetime
import json
import ssl
import subprocess
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from server.app import create_app
from tests.live import free_port
from tests.test_cli import run, serve, visits_in, wait_healthy


async def test_a_backup_restores_to_a_working_server(tmp_path, aiohttp_client, config):
    db = tmp_path / "live.db"
    created = run("create-visit", "--db", str(db), "--patient-name", "Maya Lopez", "--json")
    assert created.returncode == 0, created.stderr
    visit = json.loads(created.stdout)
    copy = tmp_path / "backups" / "monday.db"
    result = run("backup", "--db", str(db), str(copy))
    assert result.returncode == 0, result.stderr
    assert "Backed up" in result.stdout
    assert not copy.with_name("monday.db.partial").exists()
    restored = await aiohttp_client(create_app(config.with_overrides(db=copy)))
    link = "/" + visit["patient_url"].split("/", 3)[3]
    response = await restored.get(link, allow_redirects=False)
    assert response.status == 303
    page = await restored.get(response.headers["Location"])
    assert page.status == 200 and "Get ready for your visit" in await page.text()


def test_a_backup_never_overwrites_and_needs_a_database(tmp_path):
    db = tmp_path / "live.db"
    assert run("create-visit", "--db", str(db), "--patient-name", "A").returncode == 0
    existing = tmp_path / "old.db"
    existing.write_bytes(b"yesterday")
    result = run("backup", "--db", str(db), str(existing))
    assert result.returncode == 2
    assert result.stderr.strip() == f"error: {existing} already exists; choose a new file for the backup"
    assert existing.read_bytes() == b"yesterday"
    missing = run("backup", "--db", str(tmp_path / "none.db"), str(tmp_path / "b.db"))
    assert missing.returncode == 2 and "no database at" in missing.stderr
    assert not (tmp_path / "b.db").exists() and visits_in(db) == 1


def _self_signed(folder: Path) -> tuple[Path, Path]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "127.0.0.1")])
    now = datetime.datetime.now(datetime.timezone.utc)
    cert = (x509.CertificateBuilder().subject_name(name).issuer_name(name)
            .public_key(key.public_key()).serial_number(x509.random_serial_number())
            .not_valid_before(now - datetime.timedelta(minutes=1))
            .not_valid_after(now + datetime.timedelta(days=1))
            .sign(key, hashes.SHA256()))
    certfile, keyfile = folder / "cert.pem", folder / "key.pem"
    certfile.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    keyfile.write_bytes(key.private_bytes(serialization.Encoding.PEM,
                                          serialization.PrivateFormat.PKCS8,
                                          serialization.NoEncryption()))
    return certfile, keyfile


def test_serve_speaks_https_with_hsts_when_given_a_certificate(tmp_path):
    certfile, keyfile = _self_signed(tmp_path)
    port = free_port()
    server = serve(tmp_path / "v.db", port, "--certfile", str(certfile), "--keyfile", str(keyfile),
                   output=subprocess.PIPE)
    context = ssl.create_default_context(cafile=str(certfile))
    context.check_hostname = False
    try:
        health = wait_healthy(f"https://127.0.0.1:{port}", server, context)
        assert health["body"]["status"] == "ok"
        assert health["headers"]["Strict-Transport-Security"] == "max-age=31536000"
    finally:
        server.terminate()
        output, _ = server.communicate(timeout=10)
    assert f"Visitroom at https://127.0.0.1:{port}" in output


def test_a_certificate_without_its_key_is_refused_at_start(tmp_path):
    certfile, _ = _self_signed(tmp_path)
    result = run("serve", "--db", str(tmp_path / "v.db"), "--certfile", str(certfile))
    assert result.returncode == 2
    assert result.stderr.strip() == "error: certfile and keyfile go together: give both or neither"
