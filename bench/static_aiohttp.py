"""The static-file handling that was measured against `server/http/static_files.py` and not taken.

    python -m bench.static --implementation aiohttp   (starts this module's server)

`AiohttpStatic` serves `web/` through aiohttp's `FileResponse`: at start it copies the
files, with a `.gz` sibling for each text file, into a temporary folder named for the
content; `FileResponse` sends the sibling to clients that accept gzip and answers 304 to
`If-None-Match` and `If-Modified-Since` itself. Versions are computed once at start.
Every other header (types, caching) is the server's. The server runs `run.py serve`
unchanged except that `StaticFiles` is this class. Result: docs/performance.md,
"Static files".
"""

from __future__ import annotations

import atexit
import gzip
import hashlib
import os
import shutil
import sys
import tempfile
from pathlib import Path

from aiohttp import web

from server.http import static_files
from server.http.static_files import COMPRESSIBLE, LONG_CACHE, SHORT_CACHE, TYPES


class AiohttpStatic:
    """The files of one folder, copied with gzip siblings and served by `FileResponse`."""

    def __init__(self, source: Path) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="visitroom-static-"))
        atexit.register(shutil.rmtree, self.root, True)
        self._versions: dict[str, str] = {}
        self._headers: dict[str, dict[str, str]] = {}
        source = source.resolve()
        for path in sorted(source.rglob("*")):
            rel = path.relative_to(source)
            if (path.suffix not in TYPES or not path.is_file() or path.is_symlink()
                    or any(part.startswith(".") for part in rel.parts)):
                continue
            key = rel.as_posix()
            body = path.read_bytes()
            self._versions[key] = hashlib.sha256(body).hexdigest()[:16]
            target = self.root / rel
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(body)
            if path.suffix in COMPRESSIBLE:
                self._headers[key] = {"Content-Type": f"{TYPES[path.suffix]}; charset=utf-8",
                                      "Vary": "Accept-Encoding"}
                packed = gzip.compress(body, 9, mtime=0)
                if len(packed) < len(body):
                    target.with_name(target.name + ".gz").write_bytes(packed)
            else:
                self._headers[key] = {"Content-Type": TYPES[path.suffix]}

    def url(self, rel: str) -> str:
        """The versioned URL of a file (unversioned when it is not served)."""
        version = self._versions.get(rel)
        return f"/static/{rel}?v={version}" if version else f"/static/{rel}"

    async def handle(self, request: web.Request) -> web.StreamResponse:
        """GET /static/{path}: only files known at start, so no traversal or listing."""
        rel = request.match_info["path"]
        version = self._versions.get(rel)
        if version is None:
            raise web.HTTPNotFound()
        cache = LONG_CACHE if request.query.get("v") == version else SHORT_CACHE
        return web.FileResponse(self.root / rel,
                                headers={**self._headers[rel], "Cache-Control": cache})


def main(argv: list[str]) -> int:
    """`run.py serve` with `AiohttpStatic` in place of `StaticFiles`."""
    static_files.StaticFiles = AiohttpStatic  # type: ignore[misc, assignment]
    from server.runtime.cli import main as serve

    return serve(["serve", *argv])


if __name__ == "__main__":
    os.chdir(Path(__file__).resolve().parent.parent)
    sys.exit(main(sys.argv[1:]))
