"""Shared fixtures: a real app on a temporary SQLite file, and signed-in clients."""

from __future__ import annotations

from pathlib import Path

import pytest
from aiohttp.test_utils import TestClient

from server.app import create_app
from server.config import Config
from tests.helpers import ADMIN_EMAIL, ADMIN_PASSWORD, login


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
