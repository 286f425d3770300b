"""Chat in real headless Chromium: the therapist writes to the waiting patient, she answers,
she is let in, they chat in the call; markup and a link arrive as inert text, the unread
badge counts on the patient's phone, and a reload brings the messages back."""

from __future__ import annotations

from axe_playwright_python.async_playwright import Axe

from tests.browser import Chromium, screenshot, wait_state, wait_until

HOSTILE = '<img src=x onerror="window.pwned=1"> see https://evil.example/x?a=<b>1</b>'


async def _open_and_join(page, link: str) -> None:
    await page.goto(link)
    await page.wait_for_selector("#call-root[data-ready=true]", state="attached")
    await page.click("[data-testid=join-button]")


async def _no_violations(page, where: str) -> None:
    """axe-core finds nothing wrong with the chat (the page around it has its own tests)."""
    results = await Axe().run(page, context=f"#chat-{where}")
    assert results.response["testEngine"]["name"] == "axe-core"  # it ran
    assert results.violations_count == 0, f"axe on #chat-{where}:\n{results.generate_report()}"


async def _log_texts(page, where: str) -> list[str]:
    return await page.locator(f"[data-testid=chat-{where}-log] .chat-text").all_inner_texts()


async def _wait_log(page, where: str, count: int) -> None:
    await wait_until(page, f"document.querySelectorAll('[data-testid=chat-{where}-log] "
                           f".chat-text').length >= {count}")


async def test_chat_from_the_waiting_room_into_the_call_renders_text_only(live):
    visit = await live.visit()
    patient_id = visit.participant("patient").id
    async with Chromium() as chromium:
        therapist = await chromium.page(1280, 800)
        patient = await chromium.page(390, 844)
        await _open_and_join(therapist, await live.link(visit, "therapist"))
        await wait_state(therapist, "waiting")
        patient_link = await live.link(visit, "patient")
        await _open_and_join(patient, patient_link)
        await patient.wait_for_selector("[data-testid=chat-waiting]:visible")

        # The therapist writes to the waiting patient: she reads it in the waiting room and
        # her screen reader is told.
        await therapist.wait_for_selector(f"[data-testid=chat-to] option[value={patient_id}]",
                                          state="attached")
        await therapist.select_option("[data-testid=chat-to]", patient_id)
        await therapist.fill("[data-testid=chat-call-text]", "Running five minutes late")
        await therapist.click("[data-testid=chat-call-send]")
        await _wait_log(patient, "waiting", 1)
        assert await _log_texts(patient, "waiting") == ["Running five minutes late"]
        await wait_until(patient, "document.getElementById('announcer').textContent"
                                  ".includes('Running five minutes late')")
        # She answers with Enter; the therapist sees it marked as her waiting-room exchange.
        await patient.fill("[data-testid=chat-waiting-text]", "No problem, I'll wait")
        await patient.press("[data-testid=chat-waiting-text]", "Enter")
        await _wait_log(therapist, "call", 2)
        last = therapist.locator("[data-testid=chat-call-log] .chat-message").last
        assert "waiting room: Maya Lopez" in await last.locator(".chat-meta").inner_text()
        await screenshot(patient, "chat-waiting-390")
        await _no_violations(patient, "waiting")

        # Let in: the call's chat, collapsed on her phone, counts what arrives.
        await therapist.click(f"[data-testid=admit-button][data-participant={patient_id}]")
        await wait_state(patient, "connected")
        assert await patient.get_attribute("[data-testid=chat-toggle]", "aria-expanded") == "false"
        await therapist.select_option("[data-testid=chat-to]", "")
        await therapist.fill("[data-testid=chat-call-text]", HOSTILE)
        await therapist.click("[data-testid=chat-call-send]")
        await therapist.fill("[data-testid=chat-call-text]", "Let's start with a bridge")
        await therapist.click("[data-testid=chat-call-send]")
        await wait_until(patient, "document.querySelector('[data-testid=chat-unread]')"
                                  ".textContent === '2'")
        assert await patient.locator("[data-testid=chat-unread]").is_visible()
        assert "2 unread" in await patient.get_attribute("[data-testid=chat-toggle]", "aria-label")
        await screenshot(patient, "chat-unread-390")
        await patient.click("[data-testid=chat-toggle]")
        assert not await patient.locator("[data-testid=chat-unread]").is_visible()
        texts = await _log_texts(patient, "call")
        assert texts == ["Running five minutes late", "No problem, I'll wait", HOSTILE,
                         "Let's start with a bridge"]
        # The markup and the link are words on the screen: no element, no anchor, no script.
        log = patient.locator("[data-testid=chat-call-log]")
        assert await log.locator("img, a, b, script").count() == 0
        assert await patient.evaluate("window.pwned") is None
        await patient.fill("[data-testid=chat-call-text]", "Ready")
        await patient.click("[data-testid=chat-call-send]")
        await _wait_log(therapist, "call", 5)
        await screenshot(patient, "chat-call-390")
        await _no_violations(patient, "call")
        await screenshot(therapist, "chat-call-therapist-1280")
        await _no_violations(therapist, "call")
        await patient.set_viewport_size({"width": 1280, "height": 800})
        await screenshot(patient, "chat-call-1280")

        # A reload within the visit brings the messages back.
        await patient.reload()
        await patient.wait_for_selector("#call-root[data-ready=true]", state="attached")
        await wait_state(patient, "connected")
        await _wait_log(patient, "call", 5)
        assert (await _log_texts(patient, "call"))[-1] == "Ready"
        assert await patient.locator("[data-testid=chat-call-log] img, a.chat-text").count() == 0
        assert patient.errors == [] and therapist.errors == []
