"""Her messages on her plan page in real Chromium, at phone and desk width: her care team's
answer shows as the text it is (markup and a link as words), opening the thread marks it
read, and what she writes is sent once and shown the same way; then the staff side: the
dashboard's unread list and the thread with its reply form on her admin page."""

from __future__ import annotations

from server.care import messages
from server.care.patient_input import PatientRequest, PlanRequest
from server.keys import CARE, DB
from server.storage.audit_events import by_user
from server.storage.users import user_by_email
from tests.browser import Chromium, screenshot
from tests.helpers import ADMIN_EMAIL, ADMIN_PASSWORD

ANSWER = "Hello <b>Maya</b>, the video is at https://example.test/x\nSee you Monday."
HERS = "<img src=x onerror=\"document.title='hacked'\"> my hip\nis better"


async def test_her_thread_shows_text_as_text_and_her_message_is_sent_once(live):
    app = live.app
    care = app[CARE]
    patient = await care.create_patient(PatientRequest(
        name="Maya Lopez", birth_date=None, email=None, email_consent=False, phone=None,
        phone_consent=False, language="en", external_id=None), actor="test")
    plan = await care.create_plan(patient, PlanRequest(
        condition="sacroiliac-joint-dysfunction", goals="", starts_at=None, weeks=8,
        therapist_email=None), actor="test")
    admin = await user_by_email(app[DB], ADMIN_EMAIL)
    assert admin is not None
    await messages.write(app, plan, ANSWER, author="staff", user_id=admin.id,
                         actor=by_user(admin.id))
    link = await care.plan_link(plan)
    async with Chromium(grant_media=False) as chromium:
        for width in (390, 1280):
            page = await chromium.page(width, 844 if width < 600 else 800)
            await page.goto(link)
            await page.wait_for_selector("#messages[data-ready=true]", state="attached")
            team = page.locator("[data-testid=message-list] .message-team .message-text")
            assert await team.inner_text() == ANSWER
            assert await page.locator("[data-testid=message-list] b, "
                                      "[data-testid=message-list] a").count() == 0
            note = await page.locator("[data-testid=messages-note]").inner_text()
            assert "not watched around the clock" in note and "emergency" in note
            if width == 390:
                row = await app[DB].fetchone("SELECT read_at FROM plan_messages"
                                             " WHERE author = 'staff'")
                assert row[0] is not None, "opening her thread did not mark the answer read"
                await page.fill("[data-testid=message-text]", HERS)
                await page.click("[data-testid=message-send]")
                await page.wait_for_selector("[data-testid=message-status]:has-text('Sent')")
            own = page.locator("[data-testid=message-list] .message-own .message-text")
            assert await own.inner_text() == HERS
            assert await page.locator("[data-testid=message-list] img").count() == 0
            assert await page.title() != "hacked"
            overflow = await page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 1, f"the page is {overflow}px wider than the screen"
            await page.locator("#messages").scroll_into_view_if_needed()
            await screenshot(page, f"care-messages-{width}")
            assert page.errors == []
            await page.context.close()
        rows = await app[DB].fetchall("SELECT body FROM plan_messages WHERE author = 'patient'")
        assert [r[0] for r in rows] == [HERS]
        for width in (390, 1280):
            page = await chromium.page(width, 844 if width < 600 else 800)
            await page.goto(live.base + "/login")
            await page.fill("input[name=email]", ADMIN_EMAIL)
            await page.fill("input[name=password]", ADMIN_PASSWORD)
            await page.click("form[action='/login'] button[type=submit]")
            await page.wait_for_url(live.base + "/admin")
            unread = page.locator("[data-testid=unread-messages] li")
            if width == 390:
                assert "1 unread message" in await unread.inner_text()
                await screenshot(page, f"dashboard-messages-{width}")
                await unread.locator("a").click()
                await page.wait_for_url(f"**/admin/patients/{patient.id}#messages")
            else:
                # The admin's look at 390 px read it: this plan has no therapist of its own.
                assert await unread.count() == 0
                await page.goto(f"{live.base}/admin/patients/{patient.id}")
            thread = page.locator("[data-testid=message-thread]")
            assert await thread.locator("[data-author=patient]").inner_text() != ""
            assert HERS.split("\n", 1)[0] in await thread.inner_text()
            assert await thread.locator("img, b").count() == 0
            assert await page.locator("[data-testid=message-form] textarea").count() == 1
            overflow = await page.evaluate(
                "document.documentElement.scrollWidth - document.documentElement.clientWidth")
            assert overflow <= 1, f"her admin page is {overflow}px wider than the screen"
            await page.locator("#messages").scroll_into_view_if_needed()
            await screenshot(page, f"patient-messages-{width}")
            assert page.errors == []
            await page.context.close()
