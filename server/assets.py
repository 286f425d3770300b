"""Static browser files from `web/`, served by aiohttp's `FileResponse`.

At start the files are copied, with a gzip sibling (`call.js.gz`) for each text file, into
a folder under the data folder named for the content, so a restart with the same files
reuses it and the repository is never written to. `FileResponse` sends the sibling to a
browser that accepts gzip (with `sendfile` where the loop has it), and answers 304 to
`If-None-Match` and `If-Modified-Since`. A page links `/static/js/call.js?v=<hash>`; the
hash changes with the file, so browsers may keep a versioned file for a year.

Only files known at start are served: the lookup in `versions` is also what confines
requests to the folder (no traversal, no hidden files, no directory listing, no `.gz`
asked for by name). Changes under `web/` show after a restart.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from aiohttp import web

TYPES = {
    ".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml",
    ".json": "application/json", ".png": "image/png", ".woff2": "font/woff2",
    ".txt": "text/plain", ".html": "text/html",
}
COMPRESSIBLE = {".js", ".css", ".svg", ".json", ".txt", ".html"}
LONG_CACHE = "public, max-age=31536000, immutable"
SHORT_CACHE = "public, max-age=300"
STALE_AFTER_S = 24 * 3600
"""Copies of older content are removed a day after they were made: long enough for a
process of the previous release that is still draining to finish serving from its own."""


@dataclass(frozen=True)
class _File:
    version: str
    headers: dict[str, str]


class StaticAssets:
    """The files of one folder, as served under `/static/`."""

    def __init__(self, root: Path, files: dict[str, _File]) -> None:
        self.root = root
        self._files = files

    @classmethod
    def prepare(cls, source: Path, cache_dir: Path) -> StaticAssets:
        """Copy `source`'s servable files and their gzip siblings under `cache_dir`."""
        found = _servable(source.resolve())
        digest = hashlib.sha256()
        versions: dict[str, str] = {}
        for rel, path in found.items():
            body_hash = hashlib.sha256(path.read_bytes()).hexdigest()
            versions[rel] = body_hash[:16]
            digest.update(f"{rel}\0{body_hash}\0".encode())
        root = cache_dir / f"static-{digest.hexdigest()[:16]}"
        if not root.is_dir():
            _write_copy(found, root)
        _remove_stale(cache_dir, keep=root)
        files = {rel: _File(versions[rel], _headers(Path(rel).suffix)) for rel in found}
        return cls(root, files)

    def url(self, rel: str) -> str:
        """The versioned URL of a file (unversioned when it is not served)."""
        known = self._files.get(rel)
        return f"/static/{rel}?v={known.version}" if known else f"/static/{rel}"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """GET /static/{path}."""
        rel = request.match_info["path"]
        known = self._files.get(rel)
        if known is None:
            raise web.HTTPNotFound()
        cache = LONG_CACHE if request.query.get("v") == known.version else SHORT_CACHE
        return web.FileResponse(self.root / rel, headers={**known.headers, "Cache-Control": cache})


def _servable(source: Path) -> dict[str, Path]:
    """Regular files of a known type under `source`, none hidden, by relative path."""
    found: dict[str, Path] = {}
    for path in sorted(source.rglob("*")):
        rel = path.relative_to(source)
        if (path.suffix in TYPES and path.is_file() and not path.is_symlink()
                and not any(part.startswith(".") for part in rel.parts)):
            found[rel.as_posix()] = path
    return found


def _headers(suffix: str) -> dict[str, str]:
    if suffix in COMPRESSIBLE:
        return {"Content-Type": f"{TYPES[suffix]}; charset=utf-8", "Vary": "Accept-Encoding"}
    return {"Content-Type": TYPES[suffix]}


def _write_copy(found: dict[str, Path], root: Path) -> None:
    """Write the copy beside its final place, then rename it there in one step, so a
    process starting at the same moment never serves a half-written folder."""
    root.parent.mkdir(parents=True, exist_ok=True)
    building = Path(tempfile.mkdtemp(prefix=".building-", dir=root.parent))
    try:
        for rel, path in found.items():
            target = building / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            body = path.read_bytes()
            target.write_bytes(body)
            stamp = path.stat().st_mtime_ns
            os.utime(target, ns=(stamp, stamp))
            if path.suffix in COMPRESSIBLE:
                packed = gzip.compress(body, 9, mtime=0)
                if len(packed) < len(body):
                    sibling = target.with_name(target.name + ".gz")
                    sibling.write_bytes(packed)
                    os.utime(sibling, ns=(stamp, stamp))
        building.rename(root)
    except OSError:
        shutil.rmtree(building, ignore_errors=True)
        if not root.is_dir():  # another process did not just finish the same copy
            raise


def _remove_stale(cache_dir: Path, keep: Path) -> None:
    cutoff = time.time() - STALE_AFTER_S
    for old in [*cache_dir.glob("static-*"), *cache_dir.glob(".building-*")]:
        try:
            if old != keep and old.stat().st_mtime < cutoff:
                shutil.rmtree(old, ignore_errors=True)
        except FileNotFoundError:  # another process removed it first
            pass
