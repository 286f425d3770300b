"""A clinic's own look in real Chromium (issue 23, point 4): the admin sets a name, a logo,
a custom accent and a support phone through the settings form; the patient's pages (the
device check, the waiting room with her therapist's card, her plan-of-care home page) carry
them and axe-core finds no violation on them at phone width. Screenshots at 390 and 1280 px
in tests/artifacts/clinic-look-*.png."""

from __future__ import annotations

import io
import time

from axe_playwright_python.async_playwright import Axe
from PIL import Image
from playwright.async_api import Page

from server.care.patient_input import PatientRequest, PlanRequest
from server.clinic.images import photo_image
from server.keys import CARE, DB
from server.storage.clinic_settings import set_user_photo
from server.storage.users import set_profile
from tests.browser import ARTIFACTS, Chromium, screenshot, wait_state
from tests.helpers import ADMIN_EMAIL, ADMIN_PASSWORD

ACCENT = "#7a2e8c"
PHONE = "+1 (555) 010-0199"


def _logo_file(tmp_path) -> str:
    """A wide logo with transparency, as a designer would hand it over."""
    image = Image.new("RGBA", (900, 300), (0, 0, 0, 0))
    image.paste((122, 46, 140, 255), (0, 30, 300, 270))  # a mark, then a lighter band
    image.paste((214, 190, 220, 255), (330, 120, 880, 180))
    path = tmp_path / "logo.png"
    image.save(path)
    return str(path)


async def _set_the_look(chromium: Chromium, live, tmp_path) -> None:
    """Through the admin's own form, as she does it."""
    page = await chromium.page(1280)
    await page.goto(f"{live.base}/login")
    await page.fill("input[name=email]", ADMIN_EMAIL)
    await page.fill("input[name=password]", ADMIN_PASSWORD)
    await page.click("form[action='/login'] button[type=submit]")
    await page.wait_for_url(f"{live.base}/admin**")
    await page.goto(f"{live.base}/admin/settings")
    await page.fill("input[name=name]", "Harbor Pelvic Health")
    await page.fill("input[name=accent]", ACCENT)
    await page.fill("input[name=support_phone]", PHONE)
    await page.set_input_files("input[name=logo]", _logo_file(tmp_path))
    await page.click("form[action='/admin/settings'] button[type=submit]")
    await page.wait_for_selector("[data-testid=settings-saved]", timeout=15000)
    await screenshot(page, "clinic-look-settings-1280")
    await page.context.close()


async def _therapist_with_profile(live) -> None:
    user_id = await live.therapist_account("rae@clinic.test", "Rae Kim")
    out = io.BytesIO()
    Image.new("RGB", (600, 800), (90, 130, 160)).save(out, "JPEG")
    photo = photo_image(out.getvalue())
    async with live.app[DB].transaction() as conn:
        await set_profile(conn, user_id, credentials="PT, DPT, WCS",
                          bio="Pelvic health and pregnancy care since 2012.")
        await set_user_photo(conn, user_id, photo.data, photo.content_type, int(time.time()))


async def _no_violations(page: Page, what: str) -> None:
    results = await Axe().run(page)
    assert results.response["testEngine"]["name"] == "axe-core", what  # it ran
    assert results.violations_count == 0, f"axe on {what}:\n{results.generate_report()}"


async def _looks_like_the_clinic(page: Page, what: str) -> None:
    assert await page.locator(".brand span").inner_text() == "Harbor Pelvic Health", what
    assert await page.locator("[data-testid=support-phone]").get_attribute("href") == \
        "tel:+15550100199", what
    accent = await page.evaluate(
        "getComputedStyle(document.documentElement).getPropertyValue('--accent').trim()")
    assert accent == ACCENT, what
    assert await page.evaluate(
        "document.querySelector('.brand-logo').naturalWidth") == 480, what  # 900×300 → 480×160


async def _both_widths(page: Page, name: str) -> None:
    await screenshot(page, f"clinic-look-{name}-390")
    await page.set_viewport_size({"width": 1280, "height": 800})
    await screenshot(page, f"clinic-look-{name}-1280")
    await page.set_viewport_size({"width": 390, "height": 844})


async def test_patient_pages_carry_the_clinics_look_with_no_axe_violation(live, tmp_path):
    ARTIFACTS.mkdir(exist_ok=True)
    await _therapist_with_profile(live)
    visit = await live.visit(therapist_email="rae@clinic.test", therapist_name=None)
    care = live.app[CARE]
    patient = await care.create_patient(PatientRequest(
        "Maya Lopez", None, None, False, None, False, "en", None), actor="test")
    plan = await care.create_plan(patient, PlanRequest("pelvic-girdle-pain", "", None, 8, None),
                                  actor="test")
    async with Chromium() as chromium:
        await _set_the_look(chromium, live, tmp_path)
        page = await chromium.page(390, 844)
        await page.goto(await live.link(visit, "patient"))
        await wait_state(page, "prejoin")
        await page.wait_for_selector("#call-root[data-ready]", state="attached")
        await _looks_like_the_clinic(page, "the device check")
        await _no_violations(page, "the device check")
        await _both_widths(page, "prejoin")

        await page.click("[data-testid=join-button]")
        await wait_state(page, "waiting")
        card = page.locator("[data-testid=therapist-card]")
        await card.wait_for(state="visible")
        assert "PT, DPT, WCS" in await card.inner_text()
        assert await page.evaluate(
            "document.querySelector('[data-testid=therapist-photo]').naturalWidth") == 256
        await _looks_like_the_clinic(page, "the waiting room")
        await _no_violations(page, "the waiting room")
        await _both_widths(page, "waiting")

        await page.goto(await care.plan_link(plan))
        await page.wait_for_selector("main h1")
        await _looks_like_the_clinic(page, "her home page")
        await _no_violations(page, "her home page")
        await _both_widths(page, "care-home")
        assert page.errors == []
