"""Patient records (table `patients`): who a plan of care is for, and how she may be reached.

A patient's name is also kept folded (`name_key`) so that a search by name is one indexed
prefix walk on both engines, whatever their collations.
"""

from __future__ import annotations

import unicodedata
from dataclasses import dataclass

from server.storage.interface import Connection, Database, Row


@dataclass(frozen=True)
class Patient:
    """A patient of the clinic."""

    id: str
    name: str
    birth_date: str | None
    """ISO date (YYYY-MM-DD), if the clinic gave it."""
    email: str | None
    email_consent: bool
    """She agreed to be reminded by email (an unsubscribe link turns it off)."""
    phone: str | None
    phone_consent: bool
    language: str
    """The language of her pages and emails (a catalog's code, `en` by default)."""
    external_id: str | None
    """The clinic's own id for her (its EHR); unique."""
    program_reminder: int | None
    """The minute of the day (clinic time) she wants her home-program reminder; None: none."""
    created_at: int

    @classmethod
    def from_row(cls, row: Row) -> "Patient":
        """Build from a `patients` row."""
        return cls(row["id"], row["name"], row["birth_date"], row["email"],
                   bool(row["email_consent"]), row["phone"], bool(row["phone_consent"]),
                   row["language"], row["external_id"], row["program_reminder"],
                   row["created_at"])

    @property
    def may_email(self) -> bool:
        """Whether an email may be sent to her: an address and her consent."""
        return bool(self.email) and self.email_consent


def name_key(text: str) -> str:
    """A name as it is searched: NFKC, case-folded, spaces single."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


_COLUMNS = ("id, name, name_key, birth_date, email, email_consent, phone, phone_consent,"
            " language, external_id, program_reminder, created_at")


def patient_columns(alias: str) -> str:
    """The columns `Patient.from_row` reads, of the table named `alias` in a join."""
    return ", ".join(f"{alias}.{column.strip()}" for column in _COLUMNS.split(","))


async def insert_patient(conn: Connection, p: Patient) -> None:
    """Store a new patient inside the caller's transaction."""
    await conn.execute(
        f"INSERT INTO patients ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        (p.id, p.name, name_key(p.name), p.birth_date, p.email, int(p.email_consent), p.phone,
         int(p.phone_consent), p.language, p.external_id, p.program_reminder, p.created_at))


async def get_patient(db: Database, patient_id: str) -> Patient | None:
    """The patient with this id, or None."""
    row = await db.fetchone(f"SELECT {_COLUMNS} FROM patients WHERE id = ?", (patient_id,))
    return None if row is None else Patient.from_row(row)


async def patients_by_ids(db: Database, patient_ids: list[str]) -> dict[str, Patient]:
    """The patients with these ids, in one query, by id (unknown ids are left out)."""
    wanted = sorted(set(patient_ids))
    if not wanted:
        return {}
    marks = ",".join("?" * len(wanted))
    rows = await db.fetchall(f"SELECT {_COLUMNS} FROM patients WHERE id IN ({marks})", wanted)
    return {row["id"]: Patient.from_row(row) for row in rows}


async def patient_by_external_id(db: Database, external_id: str) -> Patient | None:
    """The patient the clinic's EHR knows by this id, or None."""
    row = await db.fetchone(f"SELECT {_COLUMNS} FROM patients WHERE external_id = ?",
                            (external_id,))
    return None if row is None else Patient.from_row(row)


async def external_id_taken(conn: Connection, external_id: str) -> bool:
    """Whether another patient has this external id (asked inside a write transaction)."""
    async with conn.execute("SELECT 1 FROM patients WHERE external_id = ?",
                            (external_id,)) as cur:
        return await cur.fetchone() is not None


async def search_patients(db: Database, *, query: str = "", after: tuple[str, str] | None = None,
                          limit: int = 50) -> list[Patient]:
    """Patients whose name starts with `query` (folded), or whose external id or email is
    `query` exactly; ordered by name, then id, after the (name key, id) `after` of the
    previous page. The prefix is compared with `substr`, not a range, so that an engine's
    collation cannot change which names match; ordering needs only to agree with itself."""
    folded = name_key(query)
    start_key, start_id = after if after is not None else ("", "")
    # A row value: both engines seek the (name_key, id) index to the page's start.
    page = ("(name_key, id) > (?, ?)", [start_key, start_id])
    if folded:
        where = f"(substr(name_key, 1, ?) = ? OR external_id = ? OR email = ?) AND {page[0]}"
        params: list[object] = [len(folded), folded, query.strip(), query.strip(), *page[1]]
    else:
        where, params = page[0], list(page[1])
    rows = await db.fetchall(
        f"SELECT {_COLUMNS} FROM patients WHERE {where} ORDER BY name_key, id LIMIT ?",
        (*params, limit))
    return [Patient.from_row(r) for r in rows]


async def count_patients(db: Database) -> int:
    """How many patients the clinic has."""
    row = await db.fetchone("SELECT COUNT(*) FROM patients")
    return int(row[0]) if row else 0


async def update_patient(conn: Connection, patient_id: str, changes: dict[str, object]) -> None:
    """Change some columns of a patient (names from `UPDATABLE` only) in a transaction."""
    unknown = set(changes) - UPDATABLE
    if unknown:
        raise ValueError(f"not updatable: {sorted(unknown)}")
    values = dict(changes)
    if "name" in values:
        values["name_key"] = name_key(str(values["name"]))
    for flag in ("email_consent", "phone_consent"):
        if flag in values:
            values[flag] = int(bool(values[flag]))
    assignments = ", ".join(f"{column} = ?" for column in values)
    await conn.execute(f"UPDATE patients SET {assignments} WHERE id = ?",
                       (*values.values(), patient_id))


UPDATABLE = frozenset({"name", "birth_date", "email", "email_consent", "phone", "phone_consent",
                       "language", "external_id", "program_reminder"})
"""The columns a patient's record may change (her id and creation time never do)."""
