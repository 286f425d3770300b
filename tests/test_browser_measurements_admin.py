"""Her measurements on her staff page, in real Chromium at 1280 and 390 px: the section,
its table and the trend chart read without the page scrolling sideways."""

from __future__ import annotations

import time

from server.care.patient_input import PatientRequest, PlanRequest
from server.keys import CARE, DB
from server.storage import measurements as store
from tests.browser import Chromium, screenshot
from tests.helpers import ADMIN_EMAIL, ADMIN_PASSWORD

DAY = 86400


async def test_her_measurements_and_their_trend_fit_a_laptop_and_a_phone(live):
    care = live.app[CARE]
    patient = await care.create_patient(PatientRequest(
        "Maya Lopez", None, None, False, None, False, "en", None), actor="test")
    plan = await care.create_plan(patient, PlanRequest("pelvic-girdle-pain", "", None, 8, None),
                                  actor="test")
    now = int(time.time())
    async with live.app[DB].transaction() as conn:
        for n, peak in enumerate((72.0, 80.5, 88.0)):
            await store.insert_measurements(conn, [store.NewMeasurement(
                patient.id, plan.id, None, "knee_flexion", "supported-squat", "left", peak,
                10 + n, 30.0, None, "home" if n == 1 else "visit")],
                created_at=now - (3 - n) * 7 * DAY, created_by="test")
    async with Chromium(grant_media=False) as chromium:
        for width, height in ((1280, 800), (390, 844)):
            page = await chromium.page(width, height)
            await page.goto(live.base + "/login")
            await page.fill("input[name=email]", ADMIN_EMAIL)
            await page.fill("input[name=password]", ADMIN_PASSWORD)
            await page.click("button[type=submit]")
            await page.goto(f"{live.base}/admin/patients/{patient.id}")
            section = page.locator("[data-testid=measurements]")
            assert "Knee bend (flexion)" in (await section.inner_text())
            chart = section.locator("[data-testid=chart-measure-knee_flexion-left] svg")
            assert await chart.is_visible()
            box = await chart.bounding_box()
            assert box is not None and box["width"] <= width
            await section.scroll_into_view_if_needed()
            await screenshot(page, f"patient-measurements-{width}")
            assert not await page.evaluate(
                "document.documentElement.scrollWidth > window.innerWidth"), \
                f"the patient page scrolls sideways at {width}px"
            assert page.errors == []  # type: ignore[attr-defined]
