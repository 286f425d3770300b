"""A whole visit as a Spanish-speaking patient, in real Chromium at 390 px against a live
server: her record says Spanish (her browser asks for English), and every page of hers, the
device check, the waiting room, the call with her English-speaking therapist, the closing
panel, her home program and her plan-of-care home page, shows no English word but names
and library text marked as English-only (`lang="en"`)."""

from __future__ import annotations

import re
from functools import cache

from playwright.async_api import Page

from server.care.patient_input import PatientRequest, PlanRequest
from server.http import catalogs
from server.keys import CARE, DB
from server.storage.audit_events import by_participant
from server.visits.program import assign
from tests.browser import Chromium, screenshot, wait_state
from tests.untranslated import patient_facing

PATIENT, THERAPIST = "Lucía Gómez", "Rae Kim"
EXEMPT = {"visitroom", "lucía", "gómez", "rae", "kim"}
"""Names: the product's, hers and her therapist's (the clinic's is Visitroom in tests)."""
PROPER_NAMES = ("Labor and Delivery",)
"""English names a Spanish text keeps on purpose: the unit of a US hospital as its signs
say it (the Spanish warning signs: "el área de Labor y Parto (Labor and Delivery)")."""
WORD = re.compile(r"[^\W\d_]+(?:'[^\W\d_]+)?")
SHOWN_TEXT = """() => {
    // Her page as she reads it: visible text, and the words of attributes a screen reader
    // or a pointer shows. Not what is marked English (`lang="en"`: library text with no
    // reviewed translation, the switch's "English") nor the names of her devices.
    const english = (el) => /^en\\b/i.test(el.closest("[lang]")?.getAttribute("lang") || "");
    const devices = "#pick-camera, #pick-microphone, #pick-speaker";
    const out = [document.title];
    const walker = document.createTreeWalker(document.body, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const el = node.parentElement;
        if (!el || english(el) || el.closest(devices) || !el.checkVisibility()) continue;
        if (["SCRIPT", "STYLE", "NOSCRIPT", "TEMPLATE"].includes(el.tagName)) continue;
        if (node.textContent.trim()) out.push(node.textContent.trim());
    }
    const names = ["aria-label", "aria-description", "placeholder", "title", "alt"];
    for (const el of document.body.querySelectorAll(names.map((n) => `[${n}]`).join(","))) {
        if (english(el) || el.closest(devices)) continue;
        for (const name of names) if (el.getAttribute(name)) out.push(el.getAttribute(name));
    }
    return out;
}"""


def _words(text: str) -> set[str]:
    text = re.sub(r"%\(\w+\)s|\{\w+\}|<[^>]*>", " ", text)  # placeholders and tags
    return {w.lower() for w in WORD.findall(text)}


@cache
def english_words() -> frozenset[str]:
    """Words of the patient-facing English messages that no Spanish translation uses: an
    English word on her page ("the", "your", "waiting") and not one both languages write
    ("no", "video", "Chrome")."""
    po = catalogs._read(catalogs.LOCALE_DIR / "es/LC_MESSAGES/messages.po")
    english: set[str] = set()
    spanish: set[str] = set()
    for message in po:
        if not message.id:
            continue
        ids = message.id if isinstance(message.id, (list, tuple)) else (message.id,)
        strings = message.string if isinstance(message.string, (list, tuple)) else (message.string,)
        if any(patient_facing(path) for path, _line in message.locations):
            english.update(*(_words(i) for i in ids))
        spanish.update(*(_words(s or "") for s in strings))
    return frozenset(english - spanish - EXEMPT)


def test_the_detector_finds_english_and_lets_spanish_and_names_pass():
    found = english_words()
    assert {"the", "your", "waiting", "visit", "camera"} <= found
    assert not {"consulta", "cámara", "no", "video", "visitroom", "lucía"} & found
    assert _english(["Su consulta con Rae Kim", "Cámara", "Join visit", "Espere (Visitroom)",
                     "el área de Labor y Parto (Labor and Delivery)"]) == ["Join visit"]


def _english(texts: list[str]) -> list[str]:
    words = english_words()
    return [text for text in texts
            if _words(re.sub("|".join(map(re.escape, PROPER_NAMES)), " ", text)) & words]


async def _no_english(page: Page, name: str) -> None:
    """Her page `name` has no English word; screenshot at her phone's width."""
    await screenshot(page, f"spanish-{name}-390")
    assert await page.get_attribute("html", "lang") == "es", name
    found = _english(await page.evaluate(SHOWN_TEXT))
    assert found == [], f"English on her {name} page: {found}"


async def test_a_whole_visit_in_spanish_shows_her_no_english(live):
    app, care = live.app, live.app[CARE]
    patient = await care.create_patient(PatientRequest(
        PATIENT, None, None, False, None, False, "es", None), actor="test")  # as the admin sets it
    plan = await care.create_plan(patient, PlanRequest(
        "sacroiliac-joint-dysfunction", "", None, 8, None), actor="test")
    visit = await live.visit(patient_name="", patient_id=patient.id, therapist_name=THERAPIST)
    host = visit.participant("therapist")
    for exercise in ("glute-bridge", "clamshell"):
        await assign(app[DB], visit=visit, participant_id=visit.participant("patient").id,
                     actor=by_participant(host.id), values={
                         "exercise": exercise, "sets": 2, "reps": 10, "hold_seconds": 5,
                         "per_day": 1, "per_week": 0, "note": ""})
    async with Chromium() as chromium:
        therapist = await chromium.page(1280, 800)  # her browser, like his, asks for English
        phone = await chromium.page(390, 844)
        catalogs_asked: list[str] = []
        phone.on("request", lambda r: catalogs_asked.append(r.url) if "/i18n/" in r.url else None)
        await phone.goto(await live.link(visit, "patient"))
        await phone.wait_for_selector("#call-root[data-ready=true]", state="attached")
        assert any("/static/i18n/es.json" in url for url in catalogs_asked), catalogs_asked
        await _no_english(phone, "prejoin")

        await therapist.goto(await live.link(visit, "therapist"))
        await therapist.wait_for_selector("#call-root[data-ready=true]", state="attached")
        assert await therapist.get_attribute("html", "lang") == "en"
        await therapist.click("[data-testid=join-button]")
        await wait_state(therapist, "waiting")
        await phone.click("[data-testid=join-button]")
        await phone.wait_for_selector("[data-testid=waiting-room]:visible")
        await _no_english(phone, "waiting-room")

        await therapist.click(f"[data-testid=admit-button]"
                              f"[data-participant={visit.participant('patient').id}]")
        await wait_state(phone, "connected")
        await _no_english(phone, "call")

        await therapist.click("[data-testid=end-visit-button]")
        await phone.wait_for_selector("#ended:visible")
        await _no_english(phone, "ended")

        await phone.click("[data-testid=program-link]")
        await phone.wait_for_selector("[data-testid=home-program]")
        await _no_english(phone, "program")

        await phone.goto(await care.plan_link(plan))
        await phone.wait_for_selector("#care-home[data-ready=true]", state="attached")
        await _no_english(phone, "care-home")
        await phone.set_viewport_size({"width": 1280, "height": 800})
        await screenshot(phone, "spanish-care-home-1280")
        # Her own choice on the page outweighs her record's: back on the same page, in English.
        await phone.click("[data-testid=language-switch] button[value=en]")
        await phone.wait_for_selector("html[lang=en] #care-home[data-ready=true]", state="attached")
        assert phone.url.endswith(f"/care/{plan.id}")
        assert phone.errors == [] and therapist.errors == []  # type: ignore[attr-defined]
