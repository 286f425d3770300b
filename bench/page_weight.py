"""Weight of the call page: HTML, CSS and every ES module it loads, raw and as served.

    python -m bench.page_weight [--json]

Starts the real app on a temporary database, opens a patient's link, and follows the
page's stylesheets, scripts and their imports. Targets: ≤ 100 KB raw, ≤ 35 KB compressed.
"""

from __future__ import annotations

import argparse
import asyncio
import gzip
import json
import re
import tempfile
from pathlib import Path
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

TARGET_RAW = 100 * 1024
TARGET_COMPRESSED = 35 * 1024
_ASSET = re.compile(r'(?:href|src)="(/static/[^"]+)"')
_IMPORT = re.compile(r'(?:import|from)\s*["\'](\./[^"\']+)["\']')


async def measure_call_page(client: TestClient, link_path: str) -> dict[str, Any]:
    """Fetch the call page and everything it loads; sizes raw and as served (gzip)."""
    files: dict[str, tuple[int, int]] = {}
    response = await client.get(link_path, headers={"Accept-Encoding": "gzip"})
    html = await response.read()
    files["(page HTML)"] = (len(html), len(gzip.compress(html, 6)))
    queue = _ASSET.findall(html.decode())
    seen: set[str] = set()
    while queue:
        url = queue.pop()
        path = url.split("?")[0]
        if path in seen:
            continue
        seen.add(path)
        raw = await client.get(url, headers={"Accept-Encoding": "identity"})
        body = await raw.read()
        served = await client.get(url, headers={"Accept-Encoding": "gzip"}, auto_decompress=False)
        files[path] = (len(body), len(await served.read()))
        if path.endswith(".js"):
            base = path.rsplit("/", 1)[0]
            queue.extend(f"{base}/{m[2:]}" for m in _IMPORT.findall(body.decode()))
    raw_total = sum(r for r, _ in files.values())
    served_total = sum(s for _, s in files.values())
    return {"files": files, "raw_bytes": raw_total, "compressed_bytes": served_total,
            "raw_target": TARGET_RAW, "compressed_target": TARGET_COMPRESSED}


async def run() -> dict[str, Any]:
    from server.app import VISITS, create_app
    from server.runtime.config import Config
    from server.visits.visit_input import parse_visit_request

    with tempfile.TemporaryDirectory() as tmp:
        config = Config(db=Path(tmp) / "bench.db", admin_password="bench-password-1")
        async with TestClient(TestServer(create_app(config))) as client:
            app = client.server.app
            visit = await app[VISITS].create(parse_visit_request({"patient_name": "Bench"}, config),
                                             actor="bench")
            link = await app[VISITS].link(visit.participant("patient"))
            return await measure_call_page(client, "/" + link.split("/", 3)[3])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--json", action="store_true", help="print one JSON object last")
    args = parser.parse_args()
    result = asyncio.run(run())
    for path, (raw, served) in sorted(result["files"].items()):
        print(f"{path:40} {raw:8} B  {served:7} B served")
    print(f"{'total':40} {result['raw_bytes']:8} B  {result['compressed_bytes']:7} B served")
    print(f"targets: raw ≤ {TARGET_RAW} B ({'met' if result['raw_bytes'] <= TARGET_RAW else 'MISSED'}), "
          f"compressed ≤ {TARGET_COMPRESSED} B "
          f"({'met' if result['compressed_bytes'] <= TARGET_COMPRESSED else 'MISSED'})")
    if args.json:
        print(json.dumps({k: v for k, v in result.items() if k != "files"}))


if __name__ == "__main__":
    main()
