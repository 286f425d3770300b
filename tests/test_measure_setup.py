"""What measuring stands on: the pinned pose-model files (fetched, checked, served by Visitroom
only) and the measurements file (checked at start, every measurement worded)."""

from __future__ import annotations

import base64
import gzip
import hashlib
import io
import json
import re
import tarfile
import typing
from pathlib import Path

import pytest

from server.measure.definitions import DEFINITIONS_PATH, DefinitionError, load_definitions
from server.measure.vendor import HUMAN, TFJS_WASM, VendorError, VendorPackage, check_integrity, extract
from server.library.clinical import SUPINE_IN_PREGNANCY, translated_supine_rule
from server.measure.definitions import Posture
from server.measure.words import EXTRA, HINTS, LABELS, PLACING, SAFETY, measure_words

ROOT = Path(__file__).resolve().parents[1]


def _tarball(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name, body in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(body)
            tar.addfile(info, io.BytesIO(body))
    return buffer.getvalue()


def _integrity(data: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(data).digest()).decode()


def test_a_tarball_that_does_not_match_its_pinned_integrity_is_refused():
    data = _tarball({"package/a.js": b"x"})
    check_integrity(data, _integrity(data))
    with pytest.raises(VendorError, match="integrity"):
        check_integrity(data + b"!", _integrity(data))
    with pytest.raises(VendorError, match="unsupported"):
        check_integrity(data, "sha1-" + _integrity(data)[7:])


def test_only_the_listed_files_are_extracted_and_a_crafted_path_never_written(tmp_path):
    data = _tarball({"package/dist/a.js": b"export const a = 1;", "../evil.js": b"x",
                     "package/other.js": b"y", "package/models/m.bin": b"\x00\x01"})
    package = VendorPackage("@x/y", "1.0.0", _integrity(data), "MIT",
                            {"package/dist/a.js": "a.js", "package/models/m.bin": "models/m.bin"})
    extract(package, data, tmp_path)
    written = sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob("*") if p.is_file())
    assert written == ["y-1.0.0/.installed", "y-1.0.0/a.js", "y-1.0.0/a.js.gz", "y-1.0.0/models/m.bin"]
    assert gzip.decompress((tmp_path / "y-1.0.0/a.js.gz").read_bytes()) == b"export const a = 1;"
    assert not (tmp_path.parent / "evil.js").exists()


def test_a_tarball_missing_a_listed_file_leaves_nothing_half_installed(tmp_path):
    data = _tarball({"package/dist/a.js": b"1"})
    package = VendorPackage("@x/y", "1.0.0", _integrity(data), "MIT",
                            {"package/dist/a.js": "a.js", "package/dist/b.js": "b.js"})
    with pytest.raises(VendorError, match="missing"):
        extract(package, data, tmp_path)
    assert list(tmp_path.iterdir()) == []


def test_the_pins_name_exact_versions_and_registry_integrities():
    for package in (HUMAN, TFJS_WASM):
        assert re.fullmatch(r"\d+\.\d+\.\d+", package.version)
        assert package.integrity.startswith("sha512-") and len(package.integrity) == 95
        assert package.tarball.startswith("https://registry.npmjs.org/")
    assert "movenet-lightning.bin" in " ".join(HUMAN.files.values())


async def test_the_model_files_are_served_from_visitroom_with_their_types_and_a_year_of_cache(client):
    for path, kind in ((f"/vendor/{HUMAN.folder}/human.esm.js", "text/javascript"),
                       (f"/vendor/{HUMAN.folder}/models/movenet-lightning.json", "application/json"),
                       (f"/vendor/{HUMAN.folder}/models/movenet-lightning.bin", "application/octet-stream"),
                       (f"/vendor/{TFJS_WASM.folder}/tfjs-backend-wasm-simd.wasm", "application/wasm")):
        response = await client.get(path)
        assert response.status == 200, path
        assert response.content_type == kind
        assert response.headers["Cache-Control"] == "public, max-age=31536000, immutable"
    packed = await client.get(f"/vendor/{HUMAN.folder}/human.esm.js", headers={"Accept-Encoding": "gzip"},
                              auto_decompress=False)
    assert packed.headers["Content-Encoding"] == "gzip"


@pytest.mark.parametrize("path", [
    f"/vendor/{HUMAN.folder}/.installed", f"/vendor/{HUMAN.folder}/LICENSE", "/vendor/../pyproject.toml",
    f"/vendor/{HUMAN.folder}/models/../human.esm.js.gz", "/vendor/human-9.9.9/human.esm.js", "/vendor/",
])
async def test_nothing_but_the_listed_files_is_served_from_the_vendor_folder(client, path):
    response = await client.get(path)
    assert response.status == 404
    assert "Traceback" not in await response.text()
    assert (await client.get("/healthz")).status == 200


async def test_pages_may_compile_webassembly_but_still_run_no_inline_or_evaluated_script(client):
    csp = (await client.get("/login")).headers["Content-Security-Policy"]
    script_src = next(p for p in csp.split(";") if p.strip().startswith("script-src")).split()
    assert script_src == ["script-src", "'self'", "'wasm-unsafe-eval'"]


def _write(tmp_path: Path, change) -> Path:
    data = json.loads(DEFINITIONS_PATH.read_text())
    change(data)
    path = tmp_path / "measurements.json"
    path.write_text(json.dumps(data))
    return path


@pytest.mark.parametrize(("change", "says"), [
    (lambda d: d["measurements"]["knee_flexion"].update(formula="wiggle"), "formula"),
    (lambda d: d["measurements"]["knee_flexion"].update(joints=["Hip", "Knee"]), "takes 3"),
    (lambda d: d["measurements"]["knee_flexion"].update(joints=["Hip", "Navel", "Ankle"]), "unknown joint"),
    (lambda d: d["measurements"]["knee_flexion"]["count"].update(rest=60, peak=60), "hysteresis"),
    (lambda d: d["measurements"]["knee_flexion"]["count"].update(peak=400), "range"),
    (lambda d: d["measurements"]["knee_flexion"].update(error_source=None), "source"),
    (lambda d: d["measurements"]["knee_flexion"].update(error_source="hearsay-2020"), "not in sources"),
    (lambda d: d["measurements"]["knee_flexion"].update(unit="seconds"), "does not go with"),
    (lambda d: d["exercises"].update({"supported-squat": {"measurement": "wrist_magic"}}), "unknown measurement"),
    (lambda d: d["exercises"]["supported-squat"].update(count={"rest": 20, "peak": 20}), "hysteresis"),
    (lambda d: d["exercises"]["supported-squat"].update(posture="handstand"), "posture"),
    (lambda d: d["measurements"]["knee_flexion"].pop("posture"), "posture"),
    (lambda d: d["frame_rules"].update(min_score=2), "min_score"),
    (lambda d: d["sources"]["moreira-2024"].update(url="http://example.org"), "url"),
    (lambda d: d.update(extra=1), "extra"),
])
def test_a_broken_measurements_file_stops_start_up_naming_the_field(tmp_path, change, says):
    with pytest.raises(DefinitionError, match=says):
        load_definitions(_write(tmp_path, change))


def test_an_exercise_the_library_does_not_have_is_refused(tmp_path):
    path = _write(tmp_path, lambda d: d["exercises"].update({"moonwalk": {"measurement": "knee_flexion"}}))
    with pytest.raises(DefinitionError, match="not in the library: moonwalk"):
        load_definitions(path, exercise_slugs=frozenset({"supported-squat", "split-squat", "sit-to-stand",
                                                         "glute-bridge", "single-leg-bridge",
                                                         "single-leg-calf-raise", "single-leg-balance"}))


def test_every_measurement_view_posture_and_hint_has_its_words():
    definitions = load_definitions()
    assert set(LABELS) == set(definitions.measurements)
    assert {m.view for m in definitions.measurements.values()} <= set(PLACING)
    assert set(SAFETY) == set(typing.get_args(Posture))
    assert set(EXTRA) <= set(definitions.measurements)
    # Lying on the back brings the library's pregnancy rule itself, in each language.
    assert measure_words("en")["safety"]["lying_on_back"] == SUPINE_IN_PREGNANCY
    assert measure_words("es")["safety"]["lying_on_back"] == translated_supine_rule("es")
    hints = re.search(r"export const HINTS = \[([^\]]*)\]",
                      (ROOT / "web/js/measure/measure-messages.js").read_text()).group(1)
    assert set(re.findall(r'"(\w+)"', hints)) == set(HINTS)
