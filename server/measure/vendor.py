"""The pose model's browser files: fetched once from the npm registry, pinned, checked, served by Visitroom.

The patient's browser runs MoveNet SinglePose Lightning through `@vladmandic/human` (its
bundled TensorFlow.js, WebAssembly backend). Nothing is loaded from a CDN or a model hub:
`install` downloads the two pinned tarballs from the npm registry, checks each against the
registry's sha512 integrity, and extracts only the files the browser needs (about 8 MB)
into the vendor folder, with gzip siblings of the text files. The server serves them
under `/vendor/` with a year's caching (the version is in the path). Licences: docs/measurement.md.
"""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import os
import shutil
import sys
import tarfile
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

REGISTRY = "https://registry.npmjs.org"
DOWNLOAD_TIMEOUT_S = 120
FIRST_START_TIMEOUT_S = 15
MAX_TARBALL_BYTES = 64 * 1024 * 1024
"""Read no more than this of a tarball before its integrity is checked."""
DEFAULT_DIR = Path(__file__).resolve().parents[2] / "var" / "vendor"


@dataclass(frozen=True)
class VendorPackage:
    """One pinned npm package and the files of it the browser needs (tarball path -> served name)."""

    name: str
    version: str
    integrity: str
    licence: str
    files: dict[str, str]

    @property
    def folder(self) -> str:
        """The package's folder under the vendor folder and its URL: name and version."""
        return f"{self.name.rsplit('/', 1)[-1]}-{self.version}"

    @property
    def tarball(self) -> str:
        """The registry's address of the package's tarball."""
        return f"{REGISTRY}/{self.name}/-/{self.name.rsplit('/', 1)[-1]}-{self.version}.tgz"


HUMAN = VendorPackage(
    name="@vladmandic/human", version="3.3.6", licence="MIT (code); Apache-2.0 (MoveNet weights)",
    integrity="sha512-Nr5mPfq1gQ+uKeXY5uM3Fj8UxvF5CEh2s6txM5wRThqaW0mF9huooOuZSrT8hhGho0hGaXLFdAwfD/2+teCv6A==",
    files={
        "package/dist/human.esm.js": "human.esm.js",
        "package/models/movenet-lightning.json": "models/movenet-lightning.json",
        "package/models/movenet-lightning.bin": "models/movenet-lightning.bin",
        "package/LICENSE": "LICENSE",
    },
)
TFJS_WASM = VendorPackage(
    name="@tensorflow/tfjs-backend-wasm", version="4.22.0", licence="Apache-2.0",
    integrity="sha512-/IYhReRIp4jg/wYW0OwbbJZG8ON87mbz0PgkiP3CdcACRSvUN0h8rvC0O3YcDtkTQtFWF/tcXq/KlVDyV49wmA==",
    files={
        "package/dist/tfjs-backend-wasm.wasm": "tfjs-backend-wasm.wasm",
        "package/dist/tfjs-backend-wasm-simd.wasm": "tfjs-backend-wasm-simd.wasm",
        "package/dist/tfjs-backend-wasm-threaded-simd.wasm": "tfjs-backend-wasm-threaded-simd.wasm",
        "package/package.json": "package.json",
    },
)
PACKAGES = (HUMAN, TFJS_WASM)
MARKER = ".installed"
GZIPPED = {".js", ".json"}


class VendorError(RuntimeError):
    """A package could not be fetched or did not match its pinned integrity."""


def vendor_dir() -> Path:
    """Where the vendored files live: VISITROOM_VENDOR_DIR, or var/vendor beside the code."""
    configured = os.environ.get("VISITROOM_VENDOR_DIR")
    return Path(configured) if configured else DEFAULT_DIR


_INSTALLED: set[Path] = set()
"""Folders found complete: the version is in each package's folder, so the answer holds."""


def installed(root: Path | None = None) -> bool:
    """Whether every pinned package is extracted (its marker names its integrity)."""
    root = root or vendor_dir()
    if root in _INSTALLED:
        return True
    for package in PACKAGES:
        marker = root / package.folder / MARKER
        try:
            if marker.read_text() != package.integrity:
                return False
        except OSError:
            return False
    _INSTALLED.add(root)
    return True


def browser_assets() -> dict[str, str] | None:
    """The URLs pages give the pose worker (the library, the model, the .wasm folder); None
    when the files are not installed, so pages offer no measuring."""
    if not installed():
        return None
    return {"human": f"/vendor/{HUMAN.folder}/human.esm.js",
            "model": f"/vendor/{HUMAN.folder}/models/movenet-lightning.json",
            "wasm": f"/vendor/{TFJS_WASM.folder}/"}


def check_integrity(data: bytes, integrity: str) -> None:
    """Raises VendorError unless `data` has the registry's `sha512-<base64>` integrity."""
    algorithm, _, expected = integrity.partition("-")
    if algorithm != "sha512":
        raise VendorError(f"unsupported integrity {algorithm!r}")
    actual = base64.b64encode(hashlib.sha512(data).digest()).decode()
    if actual != expected:
        raise VendorError("tarball does not match its pinned sha512 integrity")


def extract(package: VendorPackage, data: bytes, root: Path) -> None:
    """Writes the package's listed files (and gzip siblings) into root/<folder>, then its marker.

    Only the listed members are read, by exact name, so a tarball's other paths (or a
    crafted `../`) are never written.
    """
    target = root / package.folder
    staging = Path(tempfile.mkdtemp(prefix=f".{package.folder}-", dir=root))
    try:
        with tarfile.open(fileobj=io.BytesIO(data), mode="r:gz") as tar:
            members = {m.name: m for m in tar.getmembers() if m.isfile()}
            for member_name, served in package.files.items():
                member = members.get(member_name)
                if member is None:
                    raise VendorError(f"{package.name}: {member_name} is missing")
                source = tar.extractfile(member)
                assert source is not None
                body = source.read()
                out = staging / served
                out.parent.mkdir(parents=True, exist_ok=True)
                out.write_bytes(body)
                if out.suffix in GZIPPED:
                    out.with_name(out.name + ".gz").write_bytes(gzip.compress(body, 9, mtime=0))
        (staging / MARKER).write_text(package.integrity)
        staging.chmod(0o755)
        # The old folder is moved aside before the new one takes its name: never a moment
        # without one, and an unfinished install leaves only hidden staging folders.
        if target.exists():
            aside = root / f".{package.folder}-old"
            shutil.rmtree(aside, ignore_errors=True)
            target.rename(aside)
            staging.rename(target)
            shutil.rmtree(aside, ignore_errors=True)
        else:
            staging.rename(target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)


def fetch(url: str, attempts: int = 3, timeout: float = DOWNLOAD_TIMEOUT_S) -> bytes:
    """The body at url (the npm registry), tried a few times, or VendorError."""
    for attempt in range(1, attempts + 1):
        try:
            with urllib.request.urlopen(url, timeout=timeout) as response:  # noqa: S310
                body = response.read(MAX_TARBALL_BYTES + 1)
            if len(body) > MAX_TARBALL_BYTES:
                raise VendorError(f"{url} is larger than {MAX_TARBALL_BYTES} bytes")
            return body
        except OSError as err:
            if attempt == attempts:
                raise VendorError(f"could not download {url}: {err}") from err
            time.sleep(2 * attempt)
    raise AssertionError("unreachable")


def install(root: Path | None = None, *, say=print, attempts: int = 3,
            timeout: float = DOWNLOAD_TIMEOUT_S) -> None:
    """Fetches, checks and extracts every pinned package not already in place."""
    root = root or vendor_dir()
    root.mkdir(parents=True, exist_ok=True)
    for package in PACKAGES:
        marker = root / package.folder / MARKER
        if marker.exists() and marker.read_text() == package.integrity:
            continue
        say(f"fetching {package.name}@{package.version} from the npm registry (pose model, once)")
        data = fetch(package.tarball, attempts, timeout)
        check_integrity(data, package.integrity)
        extract(package, data, root)


def fetch_pose_model_once() -> None:
    """`run.py serve` fetches the pose model at its first start; without it, measuring alone
    is unavailable (the pages offer none) and the server says so."""
    if installed():
        return
    try:
        # Once, briefly: a server without a way out starts within seconds, without measuring.
        install(attempts=1, timeout=FIRST_START_TIMEOUT_S)
    except (VendorError, OSError) as exc:
        print(f"warning: measuring on the patient's device is unavailable: {exc} "
              "(python3 run.py fetch-pose-model)", file=sys.stderr)


def fetch_pose_model(_args: object = None) -> int:
    """`run.py fetch-pose-model`: fetch and check the pinned packages; exit status."""
    try:
        install()
    except VendorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"Pose model in place in {vendor_dir()}.")
    return 0
