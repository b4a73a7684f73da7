"""Offers: accept (exactly one winner), decline, expire, withdraw.

Accepting is two conditional UPDATEs in one transaction: the trip must still be waiting for a
driver, and the offer must still be open and unexpired. Whatever the concurrency, one
driver wins a trip (C1): a second accept finds the offer or the trip already changed and gets
409. The partial unique indexes (one accepted offer per trip, one active trip per driver) are
the database's backstop.
"""

import logging

from django.db import IntegrityError, connection, transaction

from dispatch import tasks
from dispatch.models import Block, BlockReservation, DispatchEvent, Offer, Trip
from dispatch.selectors import rate_card_for
from dispatch.services import pricing, sql, trips
from dispatch.services.events import dispatch_event
from spark.lib import clock
from spark.lib import sql as lib_sql
from spark.lib.actors import Actor
from spark.lib.db import one_or_none
from spark.lib.errors import Conflict, NotFound
from spark.lib.queues import kick_at_window_end

logger = logging.getLogger(__name__)


class OfferNotAvailable(Conflict):
    code = "offer_not_available"


class OfferExpired(Conflict):
    code = "offer_expired"


class DriverBusy(Conflict):
    code = "driver_busy"


def _offer_events(offers: list[tuple[int, int]], *, to: str, actor: Actor, note: str = "") -> None:
    """The audit rows of open offers that became `to`: (offer id, trip id) each."""
    now = clock.now()
    lib_sql.insert(
        DispatchEvent,
        [
            dispatch_event(
                entity=DispatchEvent.Entity.OFFER,
                entity_id=offer_id,
                trip_id=trip_id,
                from_status=Offer.Status.OPEN,
                to_status=to,
                actor=actor,
                at=now,
                note=note,
            )
            for offer_id, trip_id in offers
        ],
    )


def _close_open(where: str, params: list[object], *, to: str, now: object) -> list[tuple[int, int]]:
    """Open offers matching `where` become `to` in one UPDATE ... RETURNING: (id, trip id) each,
    in id order. Answered ones (declined) get `responded_at`; expired ones never answered."""
    at = _AcceptSql._prep(Offer, "updated_at", now)
    sets, values = "status = %s, updated_at = %s", [to, at]
    if to != Offer.Status.EXPIRED:
        sets, values = sets + ", responded_at = %s", [*values, at]
    query = f"""
        UPDATE {Offer._meta.db_table} SET {sets}
        WHERE status = {lib_sql.literal(Offer.Status.OPEN)} AND {where}
        RETURNING id, trip_id
    """  # noqa: S608 (table and column names from the code, values as parameters)
    return sorted(lib_sql.fetch(query, [*values, *params]))


def _why_not(offer_public_id: object, driver_id: int) -> Conflict:
    offer = one_or_none(Offer.objects.filter(public_id=offer_public_id, driver_id=driver_id))
    if offer is None:
        raise NotFound("No such offer.")
    if offer.status == Offer.Status.OPEN:
        return OfferExpired("This offer has expired.", extra={"status": "expired"})
    return OfferNotAvailable(
        f"This offer is no longer available ({offer.status}).", extra={"status": offer.status}
    )


def offer_accept(*, offer_public_id: object, driver_id: int, actor: Actor) -> Offer:
    try:
        return _offer_accept(offer_public_id=offer_public_id, driver_id=driver_id, actor=actor)
    except IntegrityError as exc:  # the partial unique indexes: already on a trip
        raise DriverBusy("Finish your current trip before taking another.") from exc


@transaction.atomic
def _offer_accept(*, offer_public_id: object, driver_id: int, actor: Actor) -> Offer:
    now = clock.now()
    # The trip row first: every accept of this trip queues on it (no lock-order deadlock
    # between broadcast twins, nor with a withdrawal), and only the first finds it offered.
    accept = _AcceptSql.accept if connection.vendor == "postgresql" else _AcceptSql.one_by_one
    taken, offer = accept(offer_public_id, driver_id, now, actor)
    if taken is None:
        exists = Offer.objects.filter(public_id=offer_public_id, driver_id=driver_id).exists()
        if not exists:
            raise NotFound("No such offer.")
        raise OfferNotAvailable(
            "Another driver took this trip, or it was withdrawn.", extra={"status": "taken"}
        )
    if offer is None:  # expired or answered: the trip update rolls back with us
        raise _why_not(offer_public_id, driver_id)
    trip_id, trip_public_id = taken
    offer.trip = Trip(
        id=trip_id,
        public_id=trip_public_id,
        status=Trip.Status.ASSIGNED,
        driver_id=driver_id,
        assigned_at=now,
    )
    transaction.on_commit(_kick_sync)
    return offer


class _AcceptSql:
    """Accept's statements, written out in SQL (P7).

    They are the contested path of the platform, run by every driver who taps "accept" in a
    storm; the ORM spends more time composing them than the database spends running them.
    Two conditional UPDATE ... RETURNING and a two-row INSERT, with parameters prepared by the
    model fields for the backend at hand. On PostgreSQL the three go as one statement (data-
    modifying WITH, `accept`): one round trip, so the trip row that every accept of the trip
    queues on is held for one round trip and the commit, not three.
    """

    @staticmethod
    def _prep(model: type, field: str, value: object) -> object:
        return model._meta.get_field(field).get_db_prep_value(value, connection)

    @classmethod
    def _take_sql(cls, offer_public_id: object, driver_id: int, now: object) -> lib_sql.Statement:
        """Assign the offer's trip to the driver if it is still offered: RETURNING id,
        public_id."""
        at = cls._prep(Trip, "assigned_at", now)
        sql = f"""
            UPDATE {Trip._meta.db_table}
            SET status = %s, driver_id = %s, assigned_at = %s, status_changed_at = %s,
                updated_at = %s,
                -- trips taken during a reserved block count towards its guarantee (payouts)
                block_reservation_id = (
                    SELECT r.id FROM {BlockReservation._meta.db_table} r
                    JOIN {Block._meta.db_table} b ON b.id = r.block_id
                    WHERE r.driver_id = %s AND r.status = %s
                      AND b.starts_at <= %s AND b.ends_at > %s
                    LIMIT 1
                )
            WHERE status = %s AND id = (
                SELECT trip_id FROM {Offer._meta.db_table} WHERE public_id = %s AND driver_id = %s
            )
            RETURNING id, public_id
        """  # noqa: S608 (table names from the models, values as parameters)
        params = [
            *(Trip.Status.ASSIGNED, driver_id, at, at, at),
            *(driver_id, BlockReservation.Status.RESERVED, at, at),
            Trip.Status.OFFERED,
            cls._prep(Offer, "public_id", offer_public_id),
            driver_id,
        ]
        return sql, params

    @classmethod
    def _win_sql(
        cls, offer_public_id: object, driver_id: int, now: object, *, only_if: str = ""
    ) -> lib_sql.Statement:
        """Accept the offer if it is still open and unexpired (`only_if`: one more condition):
        RETURNING its columns."""
        at = cls._prep(Offer, "responded_at", now)
        query = f"""
            UPDATE {Offer._meta.db_table}
            SET status = %s, responded_at = %s, updated_at = %s
            WHERE public_id = %s AND driver_id = %s AND status = %s AND expires_at > %s{only_if}
            RETURNING {lib_sql.Rows.of(Offer).columns()}
        """  # noqa: S608 (table names from the models, values as parameters)
        params = [
            *(Offer.Status.ACCEPTED, at, at),
            *(cls._prep(Offer, "public_id", offer_public_id), driver_id, Offer.Status.OPEN, at),
        ]
        return query, params

    @classmethod
    def one_by_one(
        cls, offer_public_id: object, driver_id: int, now: object, actor: Actor
    ) -> tuple[tuple | None, Offer | None]:
        """`accept` as three statements (SQLite has no UPDATE inside WITH)."""
        found = lib_sql.fetch(*cls._take_sql(offer_public_id, driver_id, now))
        if not found:
            return None, None
        taken = found[0][0], Trip._meta.get_field("public_id").to_python(found[0][1])
        won = lib_sql.fetch(*cls._win_sql(offer_public_id, driver_id, now))
        if not won:
            return taken, None
        offer = lib_sql.Rows.of(Offer).instance(won[0])
        lib_sql.run([cls._events(offer_id=offer.id, trip_id=taken[0], actor=actor, now=now)])
        return taken, offer

    @classmethod
    def accept(
        cls, offer_public_id: object, driver_id: int, now: object, actor: Actor
    ) -> tuple[tuple | None, Offer | None]:
        """Take the trip, win the offer and write the two events, as one statement: the trip
        taken (None: no longer offered) and the offer won (None: expired or answered; the
        caller then fails the transaction, which undoes the trip's move too)."""
        take, take_params = cls._take_sql(offer_public_id, driver_id, now)
        win, win_params = cls._win_sql(
            offer_public_id, driver_id, now, only_if=" AND EXISTS (SELECT 1 FROM taken)"
        )
        lit = lib_sql.literal
        offer, trip = lit(DispatchEvent.Entity.OFFER), lit(DispatchEvent.Entity.TRIP)
        query = f"""
            WITH taken AS ({take}), won AS ({win}), logged AS (
                INSERT INTO {DispatchEvent._meta.db_table}
                (entity, entity_id, trip_id, from_status, to_status, actor_id, actor_label, at,
                 note, lat, lng)
                SELECT e.entity, e.entity_id, taken.id, e.from_status, e.to_status,
                       CAST(%s AS BIGINT), CAST(%s AS VARCHAR), CAST(%s AS TIMESTAMPTZ),
                       '', NULL, NULL
                FROM taken, won, LATERAL (VALUES
                    ({offer}, won.id, 'open', 'accepted'),
                    ({trip}, taken.id, 'offered', 'assigned')
                ) AS e(entity, entity_id, from_status, to_status)
            )
            SELECT taken.id, taken.public_id, won.* FROM taken LEFT OUTER JOIN won ON TRUE
        """  # noqa: S608 (table names from the models, values as parameters)
        at = cls._prep(DispatchEvent, "at", now)
        params = [*take_params, *win_params, actor.user_id, actor.label, at]
        found = lib_sql.fetch(query, params)
        if not found:
            return None, None
        row = found[0]
        taken = row[0], Trip._meta.get_field("public_id").to_python(row[1])
        won = lib_sql.Rows.of(Offer).instance(row, 2) if row[2] is not None else None
        return taken, won

    @classmethod
    def _events(
        cls, *, offer_id: int, trip_id: int, actor: Actor, now: object
    ) -> lib_sql.Statement:
        at = cls._prep(DispatchEvent, "at", now)
        row = "(%s, %s, %s, %s, %s, %s, %s, %s, '', NULL, NULL)"
        sql = f"""
            INSERT INTO {DispatchEvent._meta.db_table}
            (entity, entity_id, trip_id, from_status, to_status, actor_id, actor_label, at,
             note, lat, lng)
            VALUES {row}, {row}
        """  # noqa: S608 (table names from the models, values as parameters)
        who = (actor.user_id, actor.label, at)
        params = [
            *(DispatchEvent.Entity.OFFER, offer_id, trip_id, "open", "accepted", *who),
            *(DispatchEvent.Entity.TRIP, trip_id, trip_id, "offered", "assigned", *who),
        ]
        return sql, params


SYNC_KICK_SECONDS = 1


def _kick_sync() -> None:
    """Schedule the sync of accepted trips, coalesced: the first accept of each second enqueues
    one sweep for the end of that second, which syncs every trip accepted meanwhile. A storm of
    accepts costs one task per second, not one per accept (and each accept one Redis SET NX
    instead of a task publish). Best effort: the beat's sweep catches what this misses."""
    try:
        kick_at_window_end(
            tasks.trip_assigned_sync, key="spark:kick:trips-sync", seconds=SYNC_KICK_SECONDS
        )
    except Exception:
        logger.warning("could not enqueue trip_assigned_sync", exc_info=True)


@transaction.atomic
def offer_decline(
    *, offer_public_id: object, driver_id: int, actor: Actor, reason: str = ""
) -> Offer:
    declined = _close_open(
        "public_id = %s AND driver_id = %s",
        [_AcceptSql._prep(Offer, "public_id", offer_public_id), driver_id],
        to=Offer.Status.DECLINED,
        now=clock.now(),
    )
    if len(declined) != 1:
        raise _why_not(offer_public_id, driver_id)
    _offer_events(declined, to=Offer.Status.DECLINED, actor=actor, note=reason[:300])
    trip = sql.lock_trip(declined[0][1])
    if trip is not None:
        _release_if_unanswered(trip, actor=actor, note="declined")
    return sql.offer_get(declined[0][0])


def _release_if_unanswered(trip: Trip, *, actor: Actor, note: str) -> None:
    """Once no offer of an offered trip is open, the trip goes back to the pool, boosted.

    The caller holds the trip's lock."""
    if trip.status != Trip.Status.OFFERED:
        return
    still_open = lib_sql.fetch(
        f"SELECT 1 FROM {Offer._meta.db_table} WHERE trip_id = %s"  # noqa: S608
        f" AND status = {lib_sql.literal(Offer.Status.OPEN)}",
        [trip.id],
    )
    if still_open:
        return  # a broadcast: others may still take it
    card = rate_card_for(market_id=trip.market_id, at=clock.now())
    trips.trip_return_to_pool(
        trip, actor=actor, note=note, boost_cents=pricing.next_boost(card, trip.boost_cents)
    )


def offers_withdraw_open(*, trip: Trip, actor: Actor, note: str) -> int:
    """Close the trip's open offers (taken by another driver, cancelled, reassigned)."""
    withdrawn = _close_open("trip_id = %s", [trip.id], to=Offer.Status.WITHDRAWN, now=clock.now())
    _offer_events(withdrawn, to=Offer.Status.WITHDRAWN, actor=actor, note=note)
    return len(withdrawn)


def offers_expire_due(*, market_id: int | None = None) -> int:
    """Expire open offers past their time; their trips go back to the pool, boosted."""
    now = clock.now()
    query = (
        f"SELECT DISTINCT o.trip_id FROM {Offer._meta.db_table} o"  # noqa: S608
        f" INNER JOIN {Trip._meta.db_table} t ON t.id = o.trip_id"
        f" WHERE o.status = {lib_sql.literal(Offer.Status.OPEN)} AND o.expires_at <= %s"
    )
    params = [_AcceptSql._prep(Offer, "expires_at", now)]
    if market_id is not None:
        query, params = query + " AND t.market_id = %s", [*params, market_id]
    trip_ids = [i for (i,) in lib_sql.fetch(query + " ORDER BY o.trip_id LIMIT 2000", params)]
    actor = Actor.system("dispatch")
    expired = 0
    for trip_id in trip_ids:
        with transaction.atomic():
            trip = sql.lock_trip(trip_id)
            if trip is None:
                continue
            offers = _close_open(
                "trip_id = %s AND expires_at <= %s",
                [trip_id, _AcceptSql._prep(Offer, "expires_at", now)],
                to=Offer.Status.EXPIRED,
                now=now,
            )
            _offer_events(offers, to=Offer.Status.EXPIRED, actor=actor)
            _release_if_unanswered(trip, actor=actor, note="expired")
            expired += len(offers)
    return expired
