"""Who did something: the audit label every event row carries, plus the user where there is one."""

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Actor:
    label: str
    user_id: int | None = None

    @classmethod
    def system(cls, name: str) -> "Actor":
        return cls(label=f"system:{name}")

    @classmethod
    def merchant(cls, merchant: Any) -> "Actor":
        return cls(label=f"merchant:{merchant.slug}")

    @classmethod
    def user(cls, user: Any, role: str = "user") -> "Actor":
        return cls(label=f"{role}:{user.get_username()}", user_id=user.pk)
