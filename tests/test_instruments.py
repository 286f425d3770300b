"""The outcome questionnaires (server/care/instruments): scores worked by hand from each
published method, the minimal important change read in the right direction, every bad
answer refused with its field named and nothing changed, and every instrument's sources
and patient-facing text declared."""

from __future__ import annotations

import ast
import copy
from pathlib import Path

import msgspec
import pytest
from babel.messages.extract import extract_from_dir

from server.care import instruments
from server.care.instruments import (
    INSTRUMENTS,
    AnswerError,
    change,
    change_is_important,
    pgic,
    pgq,
    psfs,
    score,
    validate,
)
from server.http import catalogs
from server.library.clinical import Source

PACKAGE = Path(instruments.__file__).resolve().parent


def pgq_answers(activity: int | list[int], symptom: int | list[int]) -> dict:
    acts = activity if isinstance(activity, list) else [activity] * 20
    syms = symptom if isinstance(symptom, list) else [symptom] * 5
    return {"items": {f"q{n}": v for n, v in enumerate(acts + syms, start=1)}}


def psfs_answers(*ratings: int, names: tuple[str, ...] = ()) -> dict:
    names = names or tuple(f"activity {i}" for i in range(len(ratings)))
    return {"activities": [{"activity": n, "score": r} for n, r in zip(names, ratings)]}


def refused(key: str, answers: object, **kwargs: object) -> AnswerError:
    before = copy.deepcopy(answers)
    with pytest.raises(AnswerError) as caught:
        validate(key, answers, **kwargs)
    assert answers == before  # a refusal changes nothing it was given
    assert caught.value.text() and "Traceback" not in caught.value.text()
    return caught.value


# Scores worked by hand


def test_psfs_scores_the_mean_of_the_ratings():
    # (4 + 7 + 2) / 3 = 4.333... -> 4.3
    result = score("psfs", psfs_answers(4, 7, 2))
    assert (result.value, result.low, result.high, result.higher_is_better) == (4.3, 0, 10, True)
    assert (result.answered, result.total, result.complete) == (3, 3, True)


def test_psfs_rounds_half_up_to_one_decimal():
    # (2 + 2 + 2 + 3) / 4 = 2.25 -> 2.3 (Python's round() would say 2.2)
    assert score("psfs", psfs_answers(2, 2, 2, 3)).value == 2.3


def test_nprs_scores_the_rating_lower_is_better():
    result = score("nprs", {"items": {"pain": 7}})
    assert (result.value, result.low, result.high, result.higher_is_better) == (7, 0, 10, False)


def test_pgic_scores_the_rating_and_counts_1_or_2_as_improved():
    assert score("pgic", {"items": {"change": 2}}).value == 2
    assert pgic.is_improved(validate("pgic", {"items": {"change": 2}}))
    assert not pgic.is_improved(validate("pgic", {"items": {"change": 3}}))


@pytest.mark.parametrize("activity, symptom, total, parts", [
    (0, 0, 0.0, {"activity": 0.0, "symptom": 0.0}),
    (3, 3, 100.0, {"activity": 100.0, "symptom": 100.0}),
    # activity 20 x 1 = 20 / 60 = 33.3; symptom 5 x 2 = 10 / 15 = 66.7; total 30 / 75 = 40
    (1, 2, 40.0, {"activity": 33.3, "symptom": 66.7}),
    # activity 3+0+... : 1 item at 3 = 3 / 60 = 5.0; symptom 0; total 3 / 75 = 4.0
    ([3] + [0] * 19, 0, 4.0, {"activity": 5.0, "symptom": 0.0}),
])
def test_pgq_scores_total_and_subscales_as_percent_of_their_maximum(activity, symptom, total,
                                                                      parts):
    result = score("pgq", pgq_answers(activity, symptom))
    assert result.value == total and dict(result.parts) == parts
    assert (result.low, result.high, result.higher_is_better) == (0, 100, False)
    assert (result.answered, result.total, result.complete) == (25, 25, True)


def test_pgq_has_20_activity_and_5_symptom_items_scored_0_to_3():
    parts = [item.part for item in pgq.ITEMS]
    assert parts.count("activity") == 20 and parts.count("symptom") == 5
    assert {(item.low, item.high) for item in pgq.ITEMS} == {(0, 3)}


def test_a_partial_pgq_is_refused_naming_the_first_question_left_open():
    answers = pgq_answers(1, 1)
    del answers["items"]["q7"], answers["items"]["q19"]
    error = refused("pgq", answers)
    assert error.field == "items.q7" and error.text() == "Please answer this question."


def test_a_pgq_answer_of_null_counts_as_left_open():
    answers = pgq_answers(1, 1)
    answers["items"]["q25"] = None
    assert refused("pgq", answers).field == "items.q25"


def test_a_pgq_with_items_16_and_19_open_scores_prorated_and_incomplete():
    answers = pgq_answers(1, 2)
    del answers["items"]["q16"]                            # absent
    answers["items"]["q19"] = None                         # or null
    clean = validate("pgq", answers)
    assert "q16" not in clean["items"] and "q19" not in clean["items"]
    result = score("pgq", answers)
    # activity 18 x 1 = 18 / (3 x 18) = 33.3; symptom 10 / 15 = 66.7;
    # total 28 / (3 x 23) = 40.58 -> 40.6 (not 28 / 75 = 37.3)
    assert result.value == 40.6 and dict(result.parts) == {"activity": 33.3, "symptom": 66.7}
    assert (result.answered, result.total, result.complete) == (23, 25, False)
    full = score("pgq", pgq_answers(3, 3))
    assert change_is_important("pgq", full, result) is None
    assert change_is_important("pgq", result, full, "symptom") is None


def test_a_pgq_with_another_item_open_is_refused_naming_it():
    answers = pgq_answers(1, 1)
    del answers["items"]["q16"], answers["items"]["q20"]
    error = refused("pgq", answers)
    assert error.field == "items.q20" and error.text() == "Please answer this question."


def test_pgq_compute_scores_over_the_items_given_and_never_raises_key_error():
    answers = pgq_answers(1, 1)
    del answers["items"]["q3"]
    result = pgq.compute(answers)
    assert (result.answered, result.complete, result.value) == (24, False, 33.3)
    with pytest.raises(AnswerError) as caught:
        pgq.compute({"items": {}})
    assert caught.value.field == "items.q1"


# The minimal important change, in the direction of better


def test_pgq_change_of_25_or_more_in_the_total_is_important():
    first = score("pgq", pgq_answers(1, 2))                # 40.0
    better = score("pgq", pgq_answers(0, 2))               # 10 / 75 = 13.3: 26.7 better
    assert change_is_important("pgq", first, better) is True
    assert change_is_important("pgq", first, better, "activity") is True   # 33.3 >= 25
    assert change_is_important("pgq", first, better, "symptom") is False   # 0 < 20


def test_pgq_importance_is_decided_on_the_exact_score_not_the_rounded_one():
    first = score("pgq", pgq_answers(3, 3))                # 75 raw
    by_18 = score("pgq", pgq_answers([0] * 6 + [3] * 14, 3))   # 57: 18 / 75 = 24.0 better
    by_19 = score("pgq", pgq_answers([0] * 6 + [2] + [3] * 13, 3))  # 56: 25.33 better
    assert change_is_important("pgq", first, by_18) is False
    assert change_is_important("pgq", first, by_19) is True


def test_a_pgq_symptom_change_of_exactly_20_is_not_important_26_7_is():
    # Stuge et al. 2017: "a change score of 20 for the symptom subscale score should be
    # regarded as insignificant". The subscale moves in steps of 100 / 15 = 6.67.
    first = score("pgq", pgq_answers(3, 3))                        # symptom 15 / 15 = 100
    by_20 = score("pgq", pgq_answers(3, [0, 3, 3, 3, 3]))          # 12 / 15 = 80.0
    by_26_7 = score("pgq", pgq_answers(3, [0, 2, 3, 3, 3]))        # 11 / 15 = 73.3
    assert change("pgq", first, by_20, "symptom") == pytest.approx(20.0)
    assert change_is_important("pgq", first, by_20, "symptom") is False
    assert change_is_important("pgq", first, by_26_7, "symptom") is True
    # the same edge for a worsening (the trend's reading uses this comparison)
    mic = pgq.INSTRUMENT.mic
    assert mic.reached(-change("pgq", by_20, first, "symptom"), "symptom") is False
    assert mic.reached(-change("pgq", by_26_7, first, "symptom"), "symptom") is True
    # the total and activity scores keep "25 or more"
    assert mic.reached(25.0) is True and mic.reached(25.0, "activity") is True


def test_a_worse_pgq_is_not_an_important_improvement():
    assert change_is_important("pgq", score("pgq", pgq_answers(0, 0)),
                               score("pgq", pgq_answers(3, 3))) is False


def test_nprs_a_fall_of_2_is_important_a_rise_is_not():
    def s(pain: int):
        return score("nprs", {"items": {"pain": pain}})
    assert change_is_important("nprs", s(7), s(5)) is True
    assert change_is_important("nprs", s(5), s(4)) is False
    assert change_is_important("nprs", s(3), s(7)) is False
    assert change("nprs", s(3), s(7)) == -4


def test_psfs_a_rise_of_2_3_is_important():
    first = score("psfs", psfs_answers(2, 3, 4))           # 3.0
    assert change_is_important("psfs", first, score("psfs", psfs_answers(5, 5, 6))) is True
    assert change_is_important("psfs", first, score("psfs", psfs_answers(5, 5, 5))) is False
    assert change_is_important("psfs", score("psfs", psfs_answers(9)),
                               score("psfs", psfs_answers(1))) is False


def test_pgic_has_no_minimal_important_change():
    one = score("pgic", {"items": {"change": 1}})
    assert change_is_important("pgic", one, one) is None


# Bad answers, each refused with its field named


@pytest.mark.parametrize("key, answers, field", [
    ("nprs", {"items": {"pain": 11}}, "items.pain"),
    ("nprs", {"items": {"pain": -1}}, "items.pain"),
    ("pgic", {"items": {"change": 0}}, "items.change"),
    ("pgic", {"items": {"change": 8}}, "items.change"),
    ("pgq", pgq_answers([4] + [0] * 19, 0), "items.q1"),
    ("psfs", psfs_answers(11), "activities[0].score"),
])
def test_an_answer_out_of_range_is_refused(key, answers, field):
    error = refused(key, answers)
    assert error.field == field and "from" in error.text()


@pytest.mark.parametrize("value", ["5", 5.0, 5.5, [5], {"v": 5}])
def test_an_answer_that_is_not_a_whole_number_is_refused(value):
    error = refused("nprs", {"items": {"pain": value}})
    assert error.field == "items.pain"
    assert error.text() == "Please choose a whole number from 0 to 10."


@pytest.mark.parametrize("key, answers, field", [
    ("nprs", {"items": {"pain": True}}, "items.pain"),
    ("pgq", pgq_answers([False] + [0] * 19, 0), "items.q1"),
    ("psfs", psfs_answers(True), "activities[0].score"),
])
def test_a_bool_is_not_a_number(key, answers, field):
    assert refused(key, answers).field == field


@pytest.mark.parametrize("key, answers, field", [
    ("nprs", {"items": {"pain": 3, "mood": 2}}, "items.mood"),
    ("pgq", {"items": {**pgq_answers(0, 0)["items"], "q26": 1}}, "items.q26"),
    ("pgic", {"items": {"change": 3, "x" * 500: 1}}, "items"),  # a long key is not echoed
    ("nprs", {"items": {"pain": 3}, "note": "hi"}, "note"),
    ("psfs", {"activities": [{"activity": "run", "score": 3, "when": "now"}]},
     "activities[0].when"),
])
def test_an_unknown_question_or_field_is_refused(key, answers, field):
    assert refused(key, answers).field == field


@pytest.mark.parametrize("answers, field", [
    (None, "answers"), ([], "answers"), ("pain=3", "answers"),
    ({}, "items"), ({"items": [3]}, "items"),
])
def test_answers_that_are_not_the_documented_shape_are_refused(answers, field):
    assert refused("nprs", answers).field == field


def test_an_unknown_questionnaire_is_refused():
    assert refused("odi", {"items": {}}).field == "instrument"


def test_psfs_takes_at_most_five_activities():
    error = refused("psfs", psfs_answers(1, 2, 3, 4, 5, 6))
    assert error.field == "activities" and error.text() == "Please name at most 5 activities."
    assert validate("psfs", psfs_answers(1, 2, 3, 4, 5))


def test_psfs_needs_at_least_one_activity():
    error = refused("psfs", {"activities": []})
    assert error.field == "activities" and error.text() == "Please name at least one activity."


@pytest.mark.parametrize("name, message", [
    ("", "Please name the activity."),
    ("   ", "Please name the activity."),
    (None, "Please write the activity in words."),
    (42, "Please write the activity in words."),
    ("lifting\nmy baby", "Please use plain text, without line breaks or special characters."),
    ("lift\u202emy baby", "Please use plain text, without line breaks or special characters."),
    ("x" * 101, "Please keep the activity to 100 characters or fewer."),
])
def test_a_psfs_activity_name_must_be_plain_short_text(name, message):
    error = refused("psfs", {"activities": [{"activity": name, "score": 3}]})
    assert error.field == "activities[0].activity" and error.text() == message


def test_a_psfs_activity_name_is_trimmed_and_its_spaces_folded():
    clean = validate("psfs", {"activities": [{"activity": "  lifting   my baby ", "score": 4}]})
    assert clean == {"activities": [{"activity": "lifting my baby", "score": 4}]}
    assert validate("psfs", psfs_answers(1, names=("x" * 100,)))


def test_a_psfs_activity_named_twice_is_refused():
    error = refused("psfs", psfs_answers(3, 4, names=("Running", " running ")))
    assert error.field == "activities[1].activity"


def test_a_psfs_activity_left_unrated_is_refused():
    error = refused("psfs", {"activities": [{"activity": "run"}]})
    assert error.field == "activities[0].score" and error.text() == "Please rate this activity."


# PSFS follow-ups rate the intake's activities


def test_the_follow_up_form_lists_the_intake_activities_unrated():
    intake = validate("psfs", psfs_answers(2, 5, names=("lifting my baby", "running")))
    assert psfs.follow_up_form(intake) == {"activities": [
        {"activity": "lifting my baby", "score": None}, {"activity": "running", "score": None}]}
    # the form as sent, unfilled, is not an answer
    assert refused("psfs", psfs.follow_up_form(intake), intake=intake).field == \
        "activities[0].score"


def test_a_follow_up_rating_the_same_activities_is_taken_in_any_order():
    intake = validate("psfs", psfs_answers(2, 5, names=("lifting my baby", "running")))
    later = validate("psfs", psfs_answers(6, 7, names=("Running", "lifting my baby")),
                     intake=intake)
    assert score("psfs", later).value == 6.5


@pytest.mark.parametrize("names", [
    ("lifting my baby",),                                  # one left out
    ("lifting my baby", "running", "sleeping"),            # one added
    ("lifting my baby", "walking"),                        # one changed
])
def test_a_follow_up_with_different_activities_is_refused(names):
    intake = validate("psfs", psfs_answers(2, 5, names=("lifting my baby", "running")))
    error = refused("psfs", psfs_answers(*[5] * len(names), names=names), intake=intake)
    assert error.field == "activities"
    assert error.text() == "Please rate the same activities as in your first questionnaire."


# Validated answers are plain JSON and score the same again


def test_validated_answers_are_a_new_plain_copy():
    given = pgq_answers(1, 1)
    clean = validate("pgq", given)
    assert clean == given and clean is not given and clean["items"] is not given["items"]


# Every instrument declares its method and sources


@pytest.mark.parametrize("key", sorted(INSTRUMENTS))
def test_every_instrument_declares_sources_a_range_and_a_minimal_important_change(key):
    found = INSTRUMENTS[key]
    assert found.key == key and found.title and found.measures and found.instructions
    assert found.sources
    for cited in found.sources:
        # the library's rules for a source (https, lengths, year or accessed, kind) hold
        given = {k: v for k, v in msgspec.structs.asdict(cited.source).items() if v != 0}
        assert msgspec.convert(given, Source) == cited.source
        assert cited.states
    assert len({c.source.key for c in found.sources}) == len(found.sources)
    assert found.low < found.high and isinstance(found.higher_is_better, bool)
    assert found.scoring and found.partial and found.wording and found.shape
    if found.mic.value is None:
        assert found.mic.note.startswith("None")  # says why none is given
    else:
        assert found.mic.value > 0 and found.mic.note
        assert found.mic.source in [cited.source for cited in found.sources]
    for item in found.items:
        assert item.low < item.high and item.anchors
        assert set(item.anchors) <= set(range(item.low, item.high + 1))


def test_the_registry_holds_the_four_instruments_of_the_issue():
    assert sorted(INSTRUMENTS) == ["nprs", "pgic", "pgq", "psfs"]


# Every patient-facing text goes through the catalog


def _catalog_messages() -> set[str]:
    return {message if isinstance(message, str) else message[0]
            for _file, _line, message, _comments, _context in extract_from_dir(
                str(PACKAGE), method_map=[("**.py", "python")], keywords=catalogs.KEYWORDS)}


def test_every_title_question_and_answer_label_is_in_the_catalog():
    extracted = _catalog_messages()
    shown = {*pgq.PROMPTS.values(), *psfs.ANCHORS.values()}
    for found in INSTRUMENTS.values():
        shown |= {found.title, found.measures, found.instructions}
        for item in found.items:
            shown |= {item.wording, *item.anchors.values()}
    assert shown - extracted == set()


def unmarked_errors(source: str) -> list[int]:
    """Lines of `AnswerError(field, message)` calls whose message is not `N_("...")`."""
    found = []
    for node in ast.walk(ast.parse(source)):
        if (isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
                and node.func.id == "AnswerError"):
            message = node.args[1] if len(node.args) > 1 else None
            if not (isinstance(message, ast.Call) and isinstance(message.func, ast.Name)
                    and message.func.id == "N_" and len(message.args) == 1
                    and isinstance(message.args[0], ast.Constant)):
                found.append(node.lineno)
    return found


@pytest.mark.parametrize("name", sorted(p.name for p in PACKAGE.glob("*.py")))
def test_every_error_message_is_marked_for_the_catalog(name):
    assert unmarked_errors((PACKAGE / name).read_text()) == []


def test_the_error_message_check_catches_unmarked_text():
    assert unmarked_errors('''
raise AnswerError("a", "Plain words.")
raise AnswerError("b", f"No {x}.")
raise AnswerError("c", message)
raise AnswerError("d", N_("Marked."))
''') == [2, 3, 4]


def test_an_error_message_is_translated_with_its_values_filled_in():
    error = refused("nprs", {"items": {"pain": 12}})
    spanish = {"Please choose a number from {low} to {high}.": "Elija un número de {low} a {high}."}
    assert error.text(lambda m: spanish.get(m, m)) == "Elija un número de 0 a 10."
