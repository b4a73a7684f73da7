"""The audit rows of trip, offer and reservation transitions."""

from datetime import datetime

from dispatch.models import DispatchEvent
from spark.lib.actors import Actor
from spark.lib.geo import Point


def dispatch_event(
    *,
    entity: str,
    entity_id: int,
    trip_id: int | None,
    from_status: str,
    to_status: str,
    actor: Actor,
    at: datetime,
    note: str = "",
    location: Point | None = None,
) -> DispatchEvent:
    return DispatchEvent(
        entity=entity,
        entity_id=entity_id,
        trip_id=trip_id,
        from_status=from_status,
        to_status=to_status,
        actor_id=actor.user_id,
        actor_label=actor.label,
        at=at,
        note=note,
        lat=location.lat if location else None,
        lng=location.lng if location else None,
    )
