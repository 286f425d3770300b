"""Warning signs are written once and graded once: each phase's set reaches every entry of that
phase, a sign several entries share reads the same (one urgency) on each, and every figure in an
entry's text cites the source that states it."""

from __future__ import annotations

import re
from typing import get_args

import pytest

from server.library.citations import MARKER, uncited_figures, with_citations, without_markers
from server.library.loader import load_library
from server.library.model import PROSE_FIELDS
from server.library.warning_signs import POSTPARTUM, PREGNANCY, SHARED_SIGNS, SharedSignKey, signs_for

URGENCY = re.compile(r":\s*([^:]+)$")
OWN_SIGNS = {
    "blood in the urine": re.compile(r"blood in (the|your) urine", re.IGNORECASE),
    "a bulge that cannot be pushed back": re.compile(r"bulge that you cannot push back", re.IGNORECASE),
    "passing wind or stool from the vagina": re.compile(r"(wind|stool) from the vagina", re.IGNORECASE),
    "a blocked bowel": re.compile(r"possible blockage", re.IGNORECASE),
    "a clot in a leg": re.compile(r"blood clot", re.IGNORECASE),
}
"""Signs entries write themselves (not shared), that must still carry one urgency across entries."""


@pytest.fixture(scope="module")
def library():
    return load_library()


def _urgency(flag: str) -> str:
    match = URGENCY.search(without_markers(flag))
    return match.group(1).strip() if match else ""


def test_the_shared_sign_keys_are_the_catalogue_keys():
    assert set(get_args(SharedSignKey)) == set(SHARED_SIGNS)


def test_every_shared_sign_and_phase_sign_says_how_urgent_it_is():
    for sign in [s.text for s in SHARED_SIGNS.values()] + [*PREGNANCY.signs, *POSTPARTUM.signs]:
        assert _urgency(sign), sign
        assert re.search(r"now|same day|straight away|999|emergency", _urgency(sign)), sign


def test_each_phase_carries_its_own_warning_signs(library):
    for condition in library.conditions.values():
        assert condition.warning_sets == signs_for("en").phase_sets[condition.phase], condition.slug
        flags = condition.all_red_flags()
        for warning_set in condition.warning_sets:
            assert set(warning_set.signs) <= set(flags), (condition.slug, warning_set.name)
    assert [s.name for s in library.conditions["hip-pain-in-pregnancy"].warning_sets] == ["pregnancy"]


def test_hip_pain_in_pregnancy_warns_of_a_clot_in_the_thigh_or_groin(library):
    flags = " ".join(library.conditions["hip-pain-in-pregnancy"].all_red_flags())
    assert re.search(r"one leg \(the calf, thigh or groin\).*blood clot", flags)


def test_a_perineal_tear_warns_of_being_unable_to_pass_urine(library):
    assert SHARED_SIGNS["cannot-pass-urine"].text in library.conditions["perineal-tear-recovery"].all_red_flags()


def test_being_unable_to_stand_or_walk_is_graded_the_same_in_pregnancy_and_after_birth(library):
    sign = SHARED_SIGNS["cannot-bear-weight"].text
    assert sign in library.conditions["pelvic-girdle-pain"].all_red_flags()
    assert sign in library.conditions["pubic-symphysis-pain-after-birth"].all_red_flags()


def test_one_sign_has_one_urgency_across_entries(library):
    """Every warning sign on any page that describes a shared sign is that sign's one text; signs the
    entries write themselves carry the same urgency wherever they appear."""
    flags = [(c.slug, f) for c in library.conditions.values() for f in c.all_red_flags()]
    for key, sign in SHARED_SIGNS.items():
        for slug, flag in flags:
            if sign.says.search(flag) and flag not in {s.text for s in SHARED_SIGNS.values()}:
                raise AssertionError(f"{slug}: {flag!r} describes '{key}' in its own words")
    for name, pattern in OWN_SIGNS.items():
        urgencies = {_urgency(f) for _, f in flags if pattern.search(f)}
        assert len(urgencies) <= 1, (name, urgencies)


def test_every_figure_in_an_entry_cites_a_source_it_lists(library):
    for condition in library.conditions.values():
        keys = {s.key for s in condition.sources}
        for text in [getattr(condition, f) for f in PROSE_FIELDS] + list(condition.red_flags):
            assert uncited_figures(text) == [], condition.slug
            for group in MARKER.findall(text):
                assert {k.strip() for k in group.split(";")} <= keys, condition.slug


def test_a_marker_becomes_numbered_links_and_the_rest_is_escaped():
    html = with_citations("About 3 in 100 <b>births</b> [rcog; nice].", ["nice", "rcog"])
    assert str(html) == ('About 3 in 100 &lt;b&gt;births&lt;/b&gt;<sup class="cite"><a href="#source-2" '
                         'aria-label="source 2">2</a>,<a href="#source-1" aria-label="source 1">1</a></sup>.')
    assert without_markers("Heals in weeks [nhs-tears].") == "Heals in weeks."


def test_figures_are_told_from_words_that_only_look_like_them():
    assert uncited_figures("A third- or fourth-degree tear. The second stage. One leg. See a GP the same day.") == []
    assert uncited_figures("About a third of women. It lasts weeks.") == ["About a third of women.",
                                                                         "It lasts weeks."]


async def test_a_condition_page_links_each_marker_to_its_source_and_the_api_keeps_the_keys(client, library):
    condition = library.conditions["perineal-tear-recovery"]
    body = await (await client.get("/library/perineal-tear-recovery")).text()
    assert '<sup class="cite"><a href="#source-' in body
    assert 'id="source-1"' in body and "[" + condition.sources[0].key + "]" not in body
    api = await (await client.get("/api/library/conditions/perineal-tear-recovery")).json()
    assert [s["key"] for s in api["sources"]] == [s.key for s in condition.sources]
    assert api["shared_red_flags"][0]["text"] in body
    listing = await (await client.get("/api/library/conditions")).json()
    assert all("[" not in c["gist"] for c in listing["conditions"])
