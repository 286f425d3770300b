"""Shared fixtures: a real app on a temporary SQLite file (or a fresh PostgreSQL database,
for the modules marked `both_engines`), and signed-in clients."""

from __future__ import annotations

from pathlib import Path
from typing import Iterator

import pytest
from aiohttp.test_utils import TestClient

from server.app import create_app
from server.runtime.config import Config
from server.storage.schema import ENGINES
from tests.helpers import ADMIN_EMAIL, ADMIN_PASSWORD, login, make_api_key
from tests.hangs import pytest_timeout_set_timer  # noqa: F401 (a hook: says what a hang waited for)
from tests.postgres_server import PostgresCluster


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", "both_engines: tests of the module that use the `config` fixture run on "
        "SQLite and on PostgreSQL ([sqlite] and [postgres] in their ids)")


def pytest_generate_tests(metafunc: pytest.Metafunc) -> None:
    if "engine" in metafunc.fixturenames and metafunc.definition.get_closest_marker("both_engines"):
        metafunc.parametrize("engine", ENGINES, indirect=True)


@pytest.fixture
def engine(request: pytest.FixtureRequest) -> str:
    """The database engine of this test: 'sqlite' unless the module runs on both."""
    return getattr(request, "param", "sqlite")


@pytest.fixture(scope="session")
def postgres_cluster() -> Iterator[PostgresCluster]:
    """One PostgreSQL server for the session (started on first use), stopped at its end."""
    try:
        cluster = PostgresCluster().start()
    except RuntimeError as exc:
        pytest.fail(f"{exc} (bash tests/run.sh installs Debian's postgresql)")
    try:
        yield cluster
    finally:
        cluster.stop()


@pytest.fixture
def postgres_url(postgres_cluster: PostgresCluster) -> Iterator[str]:
    """URL of a PostgreSQL database of this test's own (the migrations applied), dropped
    after it."""
    url = postgres_cluster.fresh_database(migrated=True)
    yield url
    postgres_cluster.retire(url)


@pytest.fixture
def config(tmp_path: Path, engine: str, request: pytest.FixtureRequest) -> Config:
    """Settings for a test server on a fresh database (file, or PostgreSQL database)."""
    url = request.getfixturevalue("postgres_url") if engine == "postgres" else ""
    return Config(db=tmp_path / "visitroom.db", database_url=url, admin_email=ADMIN_EMAIL,
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
