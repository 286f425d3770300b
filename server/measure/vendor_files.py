"""Serves the vendored pose-model files (server/measure/vendor.py) under `/vendor/`.

Only the files the pinned packages list are served, by exact name: nothing else under the
vendor folder is reachable. The version is in the path, so a browser may keep a file for a
year; a `.gz` sibling is sent to browsers that accept gzip (aiohttp's FileResponse).
"""

from __future__ import annotations

from aiohttp import web

from server.measure.vendor import PACKAGES, installed, vendor_dir

LONG_CACHE = "public, max-age=31536000, immutable"
TYPES = {".js": "text/javascript", ".json": "application/json", ".wasm": "application/wasm",
         ".bin": "application/octet-stream"}
SERVED = frozenset(f"{package.folder}/{name}" for package in PACKAGES
                   for name in package.files.values() if name.rsplit(".", 1)[-1] in
                   {suffix[1:] for suffix in TYPES})


async def vendor_file(request: web.Request) -> web.StreamResponse:
    """One vendored file, or 404 (not one of them, or the pose model is not installed)."""
    rel = request.match_info["path"]
    root = vendor_dir()
    if rel not in SERVED or not installed(root):
        raise web.HTTPNotFound(text="This file is not served here: the pose model may not be "
                               "installed on this server (`python3 run.py fetch-pose-model`).")
    suffix = "." + rel.rsplit(".", 1)[-1]
    response = web.FileResponse(root / rel, headers={"Cache-Control": LONG_CACHE})
    response.content_type = TYPES[suffix]
    return response
