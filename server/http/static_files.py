"""Static browser files from `web/`: versioned URLs, long caching, gzip kept in memory.

A page links `/static/js/call.js?v=<hash>`; the hash changes with the file, so browsers
may keep a versioned file for a year. Each file is read and compressed once per change;
after that a request costs one `stat` (to notice an edit) and a dict lookup.

Why not aiohttp's `web.static` / `FileResponse` with `.gz` siblings: measured, they spend
1.7-2 times the server CPU per file served and 1.2-1.5 times per 304, because each request
goes through the thread pool two to four times (resolve, stat and open, read, close; uvloop
has no `sendfile`). Figures and commands: docs/performance.md, "Static files".
"""

from __future__ import annotations

import gzip
import hashlib
import os
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


@dataclass(frozen=True)
class _Entry:
    path: Path
    mtime_ns: int
    body: bytes
    gzipped: bytes | None
    version: str
    etag: str
    last_modified: float


class StaticFiles:
    """Serves the files under one folder."""

    def __init__(self, root: Path) -> None:
        self.root = root.resolve()
        self._cache: dict[str, _Entry] = {}

    def _path(self, rel: str) -> Path | None:
        parts = rel.split("/")
        if (not rel or "\\" in rel or "\x00" in rel
                or any(p in ("", ".", "..") or p.startswith(".") for p in parts)):
            return None
        path = (self.root / rel).resolve()
        if not path.is_relative_to(self.root) or not path.is_file() or path.suffix not in TYPES:
            return None
        return path

    def _entry(self, rel: str) -> _Entry | None:
        entry = self._cache.get(rel)
        if entry is not None:
            # A file already checked is only stat'ed again, to notice an edit.
            try:
                if os.stat(entry.path).st_mtime_ns == entry.mtime_ns:
                    return entry
            except OSError:
                pass
            del self._cache[rel]
        path = self._path(rel)
        if path is None:
            return None
        stat = path.stat()
        body = path.read_bytes()
        packed = gzip.compress(body, 9, mtime=0) if path.suffix in COMPRESSIBLE else None
        version = hashlib.sha256(body).hexdigest()[:16]
        entry = _Entry(path, stat.st_mtime_ns, body,
                       packed if packed and len(packed) < len(body) else None,
                       version, f'"{version}"', stat.st_mtime)
        self._cache[rel] = entry
        return entry

    def url(self, rel: str) -> str:
        """The versioned URL of a file (unversioned when it does not exist)."""
        entry = self._entry(rel)
        return f"/static/{rel}?v={entry.version}" if entry else f"/static/{rel}"

    def size(self, rel: str) -> tuple[int, int]:
        """(bytes, gzipped bytes) of a file, for the page-weight report."""
        entry = self._entry(rel)
        if entry is None:
            raise FileNotFoundError(rel)
        return len(entry.body), len(entry.gzipped or entry.body)

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """GET /static/{path}."""
        rel = request.match_info["path"]
        entry = self._entry(rel)
        if entry is None:
            raise web.HTTPNotFound()
        headers = {
            "ETag": entry.etag, "Vary": "Accept-Encoding",
            "Cache-Control": LONG_CACHE if request.query.get("v") == entry.version else SHORT_CACHE,
        }
        if _not_modified(request, entry):
            response = web.Response(status=304, headers=headers)
            response.last_modified = entry.last_modified
            return response
        body = entry.body
        if entry.gzipped is not None and "gzip" in request.headers.get("Accept-Encoding", ""):
            body = entry.gzipped
            headers["Content-Encoding"] = "gzip"
        suffix = Path(rel).suffix
        response = web.Response(body=body, headers=headers, content_type=TYPES[suffix],
                                charset="utf-8" if suffix in COMPRESSIBLE else None)
        response.last_modified = entry.last_modified
        return response


def _not_modified(request: web.Request, entry: _Entry) -> bool:
    """RFC 9110 13.1.2-3: If-None-Match decides when present, else If-Modified-Since."""
    etags = request.if_none_match
    if etags is not None:
        return any(tag.value in (entry.version, "*") for tag in etags)
    since = request.if_modified_since
    return since is not None and int(entry.last_modified) <= since.timestamp()
