"""The clinic's look (one row of `clinic_settings`) and the therapists' photos
(`user_photos`); the profile's text lives on `users` (`server/storage/users.py`)."""

from __future__ import annotations

from dataclasses import dataclass

from server.storage.interface import Connection, Database, Row


@dataclass(frozen=True)
class ClinicSettings:
    """What the admin set; None where she set nothing (the default applies)."""

    name: str | None
    accent: str | None
    """`#rrggbb`, lowercase."""
    support_phone: str | None
    logo_type: str | None
    """The stored logo's content type; None without a logo."""
    logo_width: int
    logo_height: int
    logo_version: int
    """Grows with each new logo; 0 before the first."""
    version: int
    """Grows with every save."""

    @classmethod
    def from_row(cls, row: Row) -> "ClinicSettings":
        """Build from a row of `SETTINGS_COLUMNS`."""
        return cls(row["name"], row["accent"], row["support_phone"], row["logo_type"],
                   int(row["logo_width"]), int(row["logo_height"]), int(row["logo_version"]),
                   int(row["version"]))


NO_SETTINGS = ClinicSettings(None, None, None, None, 0, 0, 0, 0)
"""Before the admin's first save."""
SETTINGS_COLUMNS = ("name, accent, support_phone, logo_type, logo_width, logo_height,"
                    " logo_version, version")
"""Every column but the logo's bytes, which only the logo's own URL reads."""


async def clinic_settings(db: Database) -> ClinicSettings:
    """The stored settings (`NO_SETTINGS` before the first save)."""
    row = await db.fetchone(f"SELECT {SETTINGS_COLUMNS} FROM clinic_settings WHERE id = 1")
    return ClinicSettings.from_row(row) if row else NO_SETTINGS


async def clinic_logo(db: Database) -> tuple[bytes, str, int] | None:
    """The logo's bytes, content type and version; None without one."""
    row = await db.fetchone(
        "SELECT logo, logo_type, logo_version FROM clinic_settings WHERE id = 1"
        " AND logo IS NOT NULL")
    return (bytes(row[0]), str(row[1]), int(row[2])) if row else None


async def save_clinic_settings(conn: Connection, *, name: str | None, accent: str | None,
                               support_phone: str | None, now: int) -> None:
    """Store the text settings (one row, made on the first save), inside the caller's
    transaction; the version grows."""
    await conn.execute(
        "INSERT INTO clinic_settings (id, name, accent, support_phone, version, updated_at)"
        " VALUES (1, ?, ?, ?, 1, ?) ON CONFLICT (id) DO UPDATE SET name = excluded.name,"
        " accent = excluded.accent, support_phone = excluded.support_phone,"
        " version = clinic_settings.version + 1, updated_at = excluded.updated_at",
        (name, accent, support_phone, now))


async def set_clinic_logo(conn: Connection, logo: bytes | None, content_type: str | None,
                          width: int, height: int) -> None:
    """Replace (or with None, remove) the logo of the row `save_clinic_settings` just
    wrote, in the same transaction; a new logo gets the next version."""
    await conn.execute(
        "UPDATE clinic_settings SET logo = ?, logo_type = ?, logo_width = ?, logo_height = ?,"
        " logo_version = logo_version + 1 WHERE id = 1",
        (logo, content_type, width, height))


async def user_photo(db: Database, user_id: int) -> tuple[bytes, str, int] | None:
    """A staff account's photo: bytes, content type and version; None without one."""
    row = await db.fetchone(
        "SELECT image, content_type, version FROM user_photos WHERE user_id = ?", (user_id,))
    return (bytes(row[0]), str(row[1]), int(row[2])) if row else None


async def set_user_photo(conn: Connection, user_id: int, image: bytes | None,
                         content_type: str | None, now: int) -> None:
    """Replace (or with None, remove) an account's photo inside the caller's transaction.
    `users.photo_version` is NULL without a photo; a new photo's is the time it was stored
    (one more than the last when that is later), so its URL never names an older one."""
    if image is None:
        await conn.execute("DELETE FROM user_photos WHERE user_id = ?", (user_id,))
        await conn.execute("UPDATE users SET photo_version = NULL WHERE id = ?", (user_id,))
        return
    async with conn.execute("SELECT photo_version FROM users WHERE id = ?", (user_id,)) as cur:
        row = await cur.fetchone()
    version = max(now, (int(row[0] or 0) if row else 0) + 1)
    await conn.execute("UPDATE users SET photo_version = ? WHERE id = ?", (version, user_id))
    await conn.execute(
        "INSERT INTO user_photos (user_id, image, content_type, version) VALUES (?, ?, ?, ?)"
        " ON CONFLICT (user_id) DO UPDATE SET image = excluded.image,"
        " content_type = excluded.content_type, version = excluded.version",
        (user_id, image, content_type, version))
