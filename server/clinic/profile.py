"""The therapist's profile as her waiting patient sees it (`templates/visit/_therapist_card.html`):
her name, credentials, photo and short bio, set by the admin on the therapist's page."""

from __future__ import annotations

from dataclasses import dataclass

from server.storage import Database
from server.storage.users import user_by_id
from server.storage.visits import Visit


@dataclass(frozen=True)
class TherapistCard:
    """What the waiting room shows of the therapist a visit is booked with."""

    name: str
    """Her name as the visit gives it."""
    credentials: str | None = None
    bio: str | None = None
    photo_url: str | None = None
    """Her photo's versioned URL (through the visit's cookie); None: an initial instead."""

    @property
    def initial(self) -> str:
        """The first letter of her name, for the badge shown without a photo."""
        return (self.name.strip()[:1] or "?").upper()


async def therapist_card(db: Database, visit: Visit, name: str) -> TherapistCard:
    """The card of the visit's therapist: her account's profile when the visit is booked
    with one (a visit booked with a name only shows the name)."""
    user = await user_by_id(db, visit.therapist_id) if visit.therapist_id is not None else None
    if user is None or user.role != "therapist":
        return TherapistCard(name)
    photo = (f"/visits/{visit.id}/therapist-photo?v={user.photo_version}"
             if user.photo_version else None)
    return TherapistCard(name, user.credentials, user.bio, photo)
