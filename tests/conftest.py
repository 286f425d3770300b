"""Shared fixtures: a real app on a temporary SQLite file, and signed-in clients."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from server.app import create_app
from server.config import Config
from tests.helpers import ADMIN_EMAIL, ADMIN_PASSWORD, login, make_api_key


@pytest.fixture
def config(tmp_path: Path) -> Config:
    """Settings for a test server on a fresh database file."""
    return Config(db=tmp_path / "visitroom.db", admin_email=ADMIN_EMAIL,
                  admin_password=ADMIN_PASSWORD, public_url="http://127.0.0.1:8080")


@pytest.fixture
async def client(aiohttp_client, config: Config) -> TestClient:
    """An HTTP client against the real application."""
    return await aiohttp_client(create_app(config))


@pytest.fixture
async def admin(client: TestClient) -> TestClient:
    """The same client, signed in as the clinic admin."""
    await login(client, ADMIN_EMAIL, ADMIN_PASSWORD)
    return client


@pytest.fixture
async def api(admin):
    """A client and the Authorization header of a live API key."""
    key = await make_api_key(admin)
    return admin, {"Authorization": f"Bearer {key}"}


@pytest.fixture
def live_config(tmp_path: Path) -> Config:
    """Settings for a server on a real loopback port whose public URL is that port."""
    from signaling.ice import use_loopback_candidates
    from tests.live import free_port

    use_loopback_candidates()
    port = free_port()
    return Config(db=tmp_path / "live.db", admin_email=ADMIN_EMAIL, admin_password=ADMIN_PASSWORD,
                  port=port, public_url=f"http://127.0.0.1:{port}", heartbeat_seconds=2,
                  echo_max_sessions=1, echo_seconds=20, ice_loopback=True)


@pytest.fixture
async def live(live_config: Config):
    """A real Visitroom server on 127.0.0.1."""
    from tests.live import start_live_server

    server = await start_live_server(live_config)
    yield server
    await server.close()
