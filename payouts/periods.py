"""Pay weeks: Monday 00:00 to Monday 00:00 in the market's time zone."""

from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo


@dataclass(frozen=True)
class Week:
    start: date  # Monday, local
    starts_at: datetime
    ends_at: datetime

    @property
    def period(self) -> str:
        return f"weekly:{self.start.isoformat()}"

    @property
    def last_day(self) -> date:
        return self.start + timedelta(days=6)


def week_of(*, day: date, tz: str) -> Week:
    zone = ZoneInfo(tz)
    monday = day - timedelta(days=day.weekday())
    return Week(
        start=monday,
        starts_at=datetime.combine(monday, time(0), tzinfo=zone),
        ends_at=datetime.combine(monday + timedelta(days=7), time(0), tzinfo=zone),
    )


def week_containing(*, at: datetime, tz: str) -> Week:
    return week_of(day=at.astimezone(ZoneInfo(tz)).date(), tz=tz)


def day_start(*, at: datetime, tz: str) -> datetime:
    zone = ZoneInfo(tz)
    return datetime.combine(at.astimezone(zone).date(), time(0), tzinfo=zone)


def year_bounds(*, year: int, tz: str) -> tuple[datetime, datetime]:
    zone = ZoneInfo(tz)
    return (
        datetime.combine(date(year, 1, 1), time(0), tzinfo=zone),
        datetime.combine(date(year + 1, 1, 1), time(0), tzinfo=zone),
    )
