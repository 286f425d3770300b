"""Warning signs written once: the set every entry of a phase carries, and the signs several
entries share, each with one urgency and its sources.

The loader adds a phase's set to every condition of that phase (both sets to a condition of
either phase) and the shared signs an entry names by key; it refuses an entry's own warning
sign that says what a set or a shared sign already says, so one sign reads, and is graded, the
same on every page.

Every sign is written here in each language a page can be in (`TRANSLATED`), so a page in
Spanish shows them in Spanish whether or not its entry has a translation. Where a sign says to
call the emergency services it says `{emergency_number}`; `signs_for` fills in the clinic's
number (`VISITROOM_EMERGENCY_NUMBER`), in every language.
"""

from __future__ import annotations

import re
import functools
from dataclasses import dataclass, replace
from typing import Literal

from server.library.clinical import SUPINE_IN_PREGNANCY, Source, translated_supine_rule

EMERGENCY_NUMBER = "{emergency_number}"
"""Where a sign, or any text of the library, names the number to call in an emergency."""
DEFAULT_EMERGENCY_NUMBER = "999"
"""The number when the clinic sets none: the UK's, which the signs' NHS sources give."""

PhaseSetName = Literal["pregnancy", "postpartum"]


@dataclass(frozen=True)
class WarningSet:
    """The warning signs one phase carries, added by the loader to each condition of that phase."""

    name: PhaseSetName
    heading: str
    """The page's heading over the list."""
    signs: tuple[str, ...]
    """One sentence each, ending with how urgent it is."""
    topics: re.Pattern[str]
    """Words that show an entry's own red flag repeating this set."""
    sources: tuple[Source, ...]


@dataclass(frozen=True)
class SharedSign:
    """A warning sign several conditions carry: written once, named by key in `shared_red_flags`."""

    text: str
    """The sign and how urgent it is, one sentence."""
    says: re.Pattern[str]
    """How an entry's own red flag reads when it describes this sign (then it must use the key)."""
    sources: tuple[Source, ...]


UHB_WHEN_TO_CALL = Source(
    key="uhb-when-to-call", title="When to call the midwife",
    publisher="University Hospitals Birmingham NHS Foundation Trust",
    url="https://www.uhb.nhs.uk/services/maternity/when-to-call-the-midwife.htm", year=2022,
    kind="patient-information")
ABB_CLOT = Source(
    key="abb-clot", title="Pain in your calf, thigh, groin or when you breathe (DVT or PE)",
    publisher="Aneurin Bevan University Health Board (NHS Wales), Healthier Together",
    url="https://abbhealthiertogether.cymru.nhs.uk/pregnant-women/after-you-have-had-your-baby-2/"
    "pain-your-calf-thigh-groin-or-when-you-breathe-dvt-or-pe",
    accessed=2026, kind="patient-information")
RCOG_VTE = Source(
    key="rcog-vte", title="Diagnosis and treatment of venous thrombosis in pregnancy and after birth",
    publisher="Royal College of Obstetricians and Gynaecologists (RCOG)",
    url="https://www.rcog.org.uk/for-the-public/browse-our-patient-information/"
    "diagnosis-and-treatment-of-venous-thrombosis-in-pregnancy-and-after-birth/",
    year=2015, kind="patient-information")
LEEDS_MOVEMENTS = Source(
    key="leeds-movements", title="Information for pregnant women and parents/carers",
    publisher="NHS Leeds Clinical Commissioning Group",
    url="https://www.leedsccg.nhs.uk/health/campaigns/your-nhs-is-still-here-for-you-when-you-need-us/"
    "when-to-seek-emergency-care-information-for-pregnant-women-and-parents/",
    accessed=2026, kind="patient-information")
CDC_HEAR_HER = Source(
    key="cdc-hear-her", title="Recognizing urgent pregnancy-related warning signs (Hear Her campaign)",
    publisher="Centers for Disease Control and Prevention (CDC)",
    url="https://www.cdc.gov/hearher/resources/news-media/recognizing-urgent-warning-signs.html",
    accessed=2026, kind="patient-information")
ROTHERHAM_POSTNATAL = Source(
    key="rotherham-postnatal", title="Postnatal information for patients",
    publisher="The Rotherham NHS Foundation Trust",
    url="https://www.therotherhamft.nhs.uk/patients-and-visitors/patient-information/"
    "postnatal-information-for-parents",
    accessed=2026, kind="patient-information")
ROYAL_FREE_CES = Source(
    key="royal-free-ces", title="Cauda equina syndrome", publisher="Royal Free London NHS Foundation Trust",
    url="https://royalfree.nhs.uk/patients-and-visitors/patient-information-leaflets/cauda-equina-syndrome",
    accessed=2026, kind="patient-information")
LOTHIAN_RED_FLAGS = Source(
    key="lothian-red-flags", title="Serious lumbar spine conditions (Red Flags)",
    publisher="NHS Lothian RefHelp",
    url="https://apps.nhslothian.scot/refhelp/guidelines/musculoskeletalphysiotherapy/lumbarspine/"
    "serious-lumbar-spine-conditions-red-flags",
    year=2025, kind="guideline")
CUH_RETENTION = Source(
    key="cuh-retention", title="Urinary retention following childbirth",
    publisher="Cambridge University Hospitals NHS Foundation Trust",
    url="https://www.cuh.nhs.uk/patient-information/urinary-retention-following-childbirth/",
    accessed=2026, kind="patient-information")
PATIENT_RETENTION = Source(
    key="patient-retention", title="Urinary retention", publisher="Patient.info",
    url="https://patient.info/mens-health/prostate-and-urethra-problems/urinary-retention", year=2024,
    kind="patient-information")
STATPEARLS_PSD = Source(
    key="statpearls-psd", title="Postpartum Pubic Symphysis Diastasis", publisher="StatPearls (NCBI Bookshelf)",
    url="https://www.statpearls.com/ArticleLibrary/viewarticle/49396", accessed=2026, kind="reference")
AHCPR_RED_FLAGS = Source(
    key="ahcpr-red-flags", title="Acute Low Back Problems in Adults: Assessment and Treatment, "
    "Table 1. Red flags for potentially serious conditions",
    publisher="Agency for Health Care Policy and Research (NCBI Bookshelf)",
    url="https://www.ncbi.nlm.nih.gov/books/NBK52120/table/A34364/?report=objectonly", accessed=2026,
    kind="guideline")
MAYO_FALL_IN_PREGNANCY = Source(
    key="mayo-fall-in-pregnancy", title="Falling during pregnancy: Reason to worry?",
    publisher="Mayo Clinic (Mayo Clinic Care Network content)",
    url="https://mymlc.com/health-information/faqs/f/falling-during-pregnancy-reason-to-worry",
    accessed=2026, kind="patient-information")
SPRING_HALL_UTI = Source(
    key="spring-hall-uti", title="What is a UTI (urinary tract infection)?",
    publisher="Spring Hall Group Practice (NHS general practice)",
    url="https://springhallgrouppractice.co.uk/health-information/what-is-a-uti-urinary-tract-infection",
    accessed=2026, kind="patient-information")


BLOOD_CLOT = (
    "Pain, swelling, warmth or redness in one leg (the calf, thigh or groin): get medical help straight away "
    "(possible blood clot); call {emergency_number} if you are breathless or have chest pain, with or without a "
    "painful leg."
)
"""The sign of a clot, the same in pregnancy, after birth and in every exercise that warns of it."""

PREGNANCY = WarningSet(
    name="pregnancy",
    heading="If you are pregnant, contact your maternity unit straight away for",
    signs=(
        "Bleeding from the vagina, or your waters breaking or fluid leaking from the vagina: contact your "
        "maternity unit now; call {emergency_number} for heavy bleeding or clots.",
        "Regular, painful tightenings or contractions (possible labour, early or not): contact your maternity "
        "unit now.",
        "Your baby moving less than usual, or a change in the pattern of movements: contact your maternity "
        "unit now, even at night; do not wait until the next day.",
        "A severe headache, problems with your eyesight such as blurring or flashing lights, or sudden "
        "swelling of the face, hands or feet (possible pre-eclampsia): contact your maternity unit now.",
        BLOOD_CLOT,
        "A high temperature, or feeling hot and shivery: contact your maternity unit now.",
        "Sharp or constant tummy pain that does not come and go: call {emergency_number}.",
        "Itching, especially of the palms of your hands or the soles of your feet: contact your maternity "
        "unit now.",
        "Being sick again and again, or not being able to keep fluids down: contact your maternity unit now.",
    ),
    topics=re.compile(r"bleeding from the vagina|vaginal bleeding|fluid (loss|leak)|waters|tightenings|contractions"
                      r"|baby('s)? (is )?mov|pre-eclampsia|eyesight|blurred vision|\bcalf\b|swollen leg"
                      r"|one leg|headache|itch|sick again|keep fluids down", re.IGNORECASE),
    sources=(UHB_WHEN_TO_CALL, LEEDS_MOVEMENTS, CDC_HEAR_HER, ABB_CLOT, RCOG_VTE),
)
"""Warning signs in pregnancy, on every pregnancy condition (and every condition of either phase)."""

POSTPARTUM = WarningSet(
    name="postpartum",
    heading="In the weeks after birth, get medical help straight away for",
    signs=(
        "Heavy bleeding from the vagina, bleeding that suddenly gets heavier, large clots or discharge that "
        "smells bad, especially with feeling faint, dizzy or a racing heart: get emergency help.",
        "A temperature of 38 °C or higher, shivering, or feeling very unwell: contact your midwife or GP the "
        "same day.",
        BLOOD_CLOT,
        "A caesarean wound or the stitches of a tear that become red, swollen, more painful, leak or smell bad "
        "(possible infection): contact your midwife or GP the same day.",
        "A severe headache that will not go away or keeps getting worse, especially with changes in your "
        "eyesight: call {emergency_number} or go to an emergency department now.",
        "Thoughts of harming yourself or your baby, or feeling confused, very agitated or not like yourself: "
        "get help straight away from your GP, midwife or an emergency department.",
    ),
    topics=re.compile(r"\bcalf\b|headache|heavy (vaginal )?bleeding|\bwound\b", re.IGNORECASE),
    sources=(CDC_HEAR_HER, ROTHERHAM_POSTNATAL),
)
"""Warning signs after birth, on every postpartum condition (and every condition of either phase)."""

PHASE_SETS: dict[str, tuple[WarningSet, ...]] = {
    "pregnancy": (PREGNANCY,),
    "postpartum": (POSTPARTUM,),
    "any": (PREGNANCY, POSTPARTUM),
}
"""The warning-sign sets a condition of each phase carries."""

SHARED_SIGNS: dict[str, SharedSign] = {
    "cauda-equina": SharedSign(
        "Numbness or pins and needles around the genitals, back passage or buttocks (the saddle area), or "
        "pain, numbness or weakness in both legs, especially with new trouble starting or controlling urine "
        "or stool: go to an emergency department now (possible cauda equina syndrome).",
        re.compile(r"saddle|genitals|buttocks|both legs|cauda equina", re.IGNORECASE),
        (ROYAL_FREE_CES,)),
    "leg-weakness": SharedSign(
        "New or worsening weakness in a leg, or a foot that drags or slaps as you walk: get medical help the "
        "same day.",
        re.compile(r"weak(ness)? (in )?(a|the|one|your) leg|leg weakness|foot (that )?drags|foot drop",
                   re.IGNORECASE),
        (LOTHIAN_RED_FLAGS,)),
    "cannot-pass-urine": SharedSign(
        "Being unable to pass urine, or passing only a little with a full, painful bladder, or not having "
        "passed urine within six hours of the birth or of a catheter coming out: get medical help straight "
        "away (after birth, tell your midwife now).",
        re.compile(r"(unable to|cannot|can't|not) pass(ing)? urine|pass(ed)? no urine", re.IGNORECASE),
        (CUH_RETENTION, PATIENT_RETENTION)),
    "cannot-bear-weight": SharedSign(
        "Pain so severe that you cannot stand, walk or put weight on a leg: get medical help the same day.",
        re.compile(r"(cannot|can't|unable to) (stand|walk)|bear weight|take your weight|weight on the leg",
                   re.IGNORECASE),
        (STATPEARLS_PSD,)),
    "after-a-fall": SharedSign(
        "Pain that starts after a fall or an accident (possible broken bone): get medical help the same day; if "
        "you are pregnant, contact your midwife or maternity unit straight away, even if you feel well.",
        re.compile(r"after a fall|after an accident|fall or accident", re.IGNORECASE),
        (AHCPR_RED_FLAGS, MAYO_FALL_IN_PREGNANCY)),
    "urine-infection": SharedSign(
        "Pain or burning when passing urine, or needing to go much more often (possible infection): contact "
        "your GP, or your midwife in pregnancy or after birth, the same day; straight away with a fever, "
        "shivering or pain in your back or side.",
        re.compile(r"(pain|burning)( or burning)? when (passing urine|you pee)", re.IGNORECASE),
        (SPRING_HALL_UTI, UHB_WHEN_TO_CALL)),
}
"""Warning signs several conditions share, by key; an entry lists the keys in `shared_red_flags`."""

SharedSignKey = Literal["cauda-equina", "leg-weakness", "cannot-pass-urine", "cannot-bear-weight", "after-a-fall",
                        "urine-infection"]
"""A key of SHARED_SIGNS (a test keeps the two the same)."""


@dataclass(frozen=True)
class TranslatedSigns:
    """Every warning sign in one language other than English, each at the place of its English."""

    sets: dict[str, tuple[str, tuple[str, ...]]]
    """Per phase set name: its heading and its signs, in the order of the English signs."""
    shared: dict[str, str]
    """Per shared sign key: its text."""


SPANISH_MATERNITY = "su obstetra o partera, o con el área de Labor y Parto (Labor and Delivery) de su hospital"
"""Whom the Spanish signs name for the English "maternity unit", after "con": the obstetrician or
midwife, or the hospital's Labor and Delivery triage, the places a US patient calls; see
docs/library.md, "Spanish"."""
BLOOD_CLOT_ES = (
    "Dolor, hinchazón, calor o enrojecimiento en una pierna (la pantorrilla, el muslo o la ingle): busque "
    "atención médica de inmediato (posible coágulo de sangre); llame al {emergency_number} si le falta el aire o "
    "tiene dolor en el pecho, le duela o no la pierna."
)

SPANISH = TranslatedSigns(
    sets={
        "pregnancy": (
            f"Si está embarazada, comuníquese de inmediato con {SPANISH_MATERNITY}, ante cualquiera de estas "
            "señales",
            (
                "Sangrado por la vagina, o si se le rompe la fuente o le sale líquido por la vagina: comuníquese ahora con "
                f"{SPANISH_MATERNITY}; llame al {{emergency_number}} si el sangrado es abundante o tiene coágulos.",
                "Endurecimientos o contracciones regulares y dolorosos (puede ser el parto, antes de tiempo o no): "
                f"comuníquese ahora con {SPANISH_MATERNITY}.",
                "Su bebé se mueve menos de lo habitual, o ha cambiado la forma en que se mueve: comuníquese ahora "
                f"con {SPANISH_MATERNITY}, aunque sea de noche; no espere al día siguiente.",
                "Dolor de cabeza intenso, problemas de la vista como visión borrosa o destellos de luz, o hinchazón "
                "repentina de la cara, las manos o los pies (posible preeclampsia): comuníquese ahora con "
                f"{SPANISH_MATERNITY}.",
                BLOOD_CLOT_ES,
                f"Fiebre, o sensación de calor con escalofríos: comuníquese ahora con {SPANISH_MATERNITY}.",
                "Dolor de vientre punzante o constante, que no va y viene: llame al {emergency_number}.",
                "Picazón, sobre todo en las palmas de las manos o en las plantas de los pies: comuníquese ahora con "
                f"{SPANISH_MATERNITY}.",
                "Vomitar una y otra vez, o no poder retener los líquidos: comuníquese ahora con "
                f"{SPANISH_MATERNITY}.",
            ),
        ),
        "postpartum": (
            "En las semanas después del parto, busque atención médica de inmediato ante cualquiera de estas señales",
            (
                "Sangrado abundante por la vagina, sangrado que de repente aumenta, coágulos grandes o un flujo "
                "con mal olor, sobre todo si se siente a punto de desmayarse, mareada o con el corazón acelerado: "
                "busque atención de emergencia.",
                "Temperatura de 38 °C (100.4 °F) o más, escalofríos, o si se siente muy mal: llame a su partera u "
                "obstetra, o a su médico, el mismo día.",
                BLOOD_CLOT_ES,
                "La herida de la cesárea o los puntos de un desgarro se ponen rojos, hinchados o más dolorosos, "
                "les sale líquido o pus, o huelen mal (posible infección): llame a su partera u obstetra, o a su médico, el mismo "
                "día.",
                "Dolor de cabeza intenso que no se quita o que sigue empeorando, sobre todo con cambios en la vista: "
                "llame al {emergency_number} o vaya ahora a una sala de emergencias.",
                "Pensamientos de hacerse daño a usted misma o a su bebé, o si se siente confundida, muy agitada o "
                "si no se siente como usted misma: pida ayuda de inmediato a su médico, a su partera u obstetra, o en una "
                "sala de emergencias.",
            ),
        ),
    },
    shared={
        "cauda-equina":
            "Entumecimiento u hormigueo alrededor de los genitales, el ano o las nalgas (la zona que se apoya "
            "en una silla de montar), o dolor, entumecimiento o debilidad en las dos piernas, sobre todo si "
            "además tiene dificultad nueva para empezar a orinar o para controlar la orina o las heces: vaya ahora a una sala de "
            "emergencias (posible síndrome de la cola de caballo).",
        "leg-weakness":
            "Debilidad nueva o que empeora en una pierna, o un pie que se arrastra o golpea el suelo al caminar: "
            "busque atención médica el mismo día.",
        "cannot-pass-urine":
            "No poder orinar, u orinar solo un poco con la vejiga llena y adolorida, o no haber orinado en las "
            "seis horas después del parto o de que le quitaran la sonda: busque atención médica de inmediato "
            "(después del parto, avise ahora a su partera o a su equipo de maternidad).",
        "cannot-bear-weight":
            "Dolor tan fuerte que no puede estar de pie, caminar ni apoyar el peso en una pierna: busque "
            "atención médica el mismo día.",
        "after-a-fall":
            "Dolor que empieza después de una caída o un accidente (posible fractura): busque atención médica el "
            f"mismo día; si está embarazada, comuníquese de inmediato con {SPANISH_MATERNITY}, aunque se "
            "sienta bien.",
        "urine-infection":
            "Dolor o ardor al orinar, o necesidad de orinar mucho más a menudo (posible infección): llame a su "
            "médico, o a su partera u obstetra si está embarazada o acaba de dar a luz, el mismo día; de "
            "inmediato si además tiene fiebre, escalofríos o dolor en la espalda o en el costado.",
    },
)
"""The warning signs in Spanish, for US patients (usted; obstetra, partera, Labor y Parto, sala de
emergencias), reviewed against the Spanish sources listed in docs/library.md."""

TRANSLATED: dict[str, TranslatedSigns] = {"es": SPANISH}
"""Every language other than English the warning signs are written in."""


@dataclass(frozen=True)
class Signs:
    """The warning signs as a page in one language shows them, the clinic's emergency number filled in."""

    language: str
    phase_sets: dict[str, tuple[WarningSet, ...]]
    """The sets a condition of each phase carries (as PHASE_SETS)."""
    shared: dict[str, str]
    """The text of each shared sign, by key."""
    supine: str
    """The rule for lying on the back in pregnancy (clinical.SUPINE_IN_PREGNANCY)."""


def fill_number(text: str, emergency_number: str) -> str:
    """`text` with the clinic's emergency number where it says `{emergency_number}`."""
    return text.replace(EMERGENCY_NUMBER, emergency_number)


def translation_problems() -> list[str]:
    """What is missing or wrong in TRANSLATED: a sign without its translation, or a translation that
    drops (or adds) the emergency number its English names. The loader refuses to start on any."""
    problems = []
    english = {s.name: s for s in (PREGNANCY, POSTPARTUM)}
    for language, said in TRANSLATED.items():
        pairs = [(f"shared sign '{key}'", sign.text, said.shared.get(key, "")) for key, sign in SHARED_SIGNS.items()]
        for name, warning_set in english.items():
            _heading, signs = said.sets.get(name, ("", ()))
            if len(signs) != len(warning_set.signs):
                problems.append(f"{language}: the {name} set has {len(signs)} signs, its English "
                                f"{len(warning_set.signs)}")
            pairs += [(f"{name} sign {i + 1}", e, t) for i, (e, t) in enumerate(zip(warning_set.signs, signs))]
        pairs.append(("the rule for lying on the back", SUPINE_IN_PREGNANCY, translated_supine_rule(language)))
        for where, english_text, text in pairs:
            if not text.strip():
                problems.append(f"{language}: {where} is not translated")
            elif text.count(EMERGENCY_NUMBER) != english_text.count(EMERGENCY_NUMBER):
                problems.append(f"{language}: {where} names the emergency number {text.count(EMERGENCY_NUMBER)} "
                                f"time(s), its English {english_text.count(EMERGENCY_NUMBER)}")
    return problems


@functools.cache
def signs_for(language: str, emergency_number: str = DEFAULT_EMERGENCY_NUMBER) -> Signs:
    """The warning signs in `language` (English for a language they are not written in) with
    `emergency_number` filled in."""
    said = TRANSLATED.get(language)

    def local(warning_set: WarningSet) -> WarningSet:
        heading, signs = said.sets[warning_set.name] if said else (warning_set.heading, warning_set.signs)
        return replace(warning_set, heading=heading, signs=tuple(fill_number(s, emergency_number) for s in signs))

    return Signs(
        language=language if said else "en",
        phase_sets={phase: tuple(local(s) for s in sets) for phase, sets in PHASE_SETS.items()},
        shared={key: fill_number(said.shared[key] if said else sign.text, emergency_number)
                for key, sign in SHARED_SIGNS.items()},
        supine=fill_number(translated_supine_rule(language) if said else SUPINE_IN_PREGNANCY, emergency_number),
    )
