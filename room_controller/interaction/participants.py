"""Who takes part: a participant as the server knows them (never as a client claims)."""

from __future__ import annotations

from dataclasses import dataclass

from room_controller.interaction.limits import MAX_NAME


@dataclass(frozen=True)
class Participant:
    """One person in the classroom.

    ``key`` identifies them across reconnections (the account's user name); ``name`` is the
    display name from their account; ``moderator`` is true for the room's instructors and
    admins. All three come from the server's authentication, never from a message.
    """

    key: str
    name: str
    user_id: int | None = None
    moderator: bool = False

    def __post_init__(self) -> None:
        name = " ".join(self.name.split())[:MAX_NAME] or self.key[:MAX_NAME]
        object.__setattr__(self, "name", name)

    def public(self) -> dict[str, str]:
        return {"key": self.key, "name": self.name}
