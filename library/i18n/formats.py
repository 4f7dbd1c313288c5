"""Dates, times, numbers and durations in the current language and time zone (CLDR data, via
Babel). The server keeps UTC; everything here turns it into the viewer's wall clock.

A naive ``datetime`` is taken as UTC (that is how SQLite hands stored values back)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from babel import dates as babel_dates
from babel import numbers as babel_numbers
from babel.lists import format_list

from library.i18n import current


def _aware(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value


def local(value: datetime, zone: str | None = None) -> datetime:
    """``value`` on the wall clock of ``zone`` (default: the viewer's)."""
    return _aware(value).astimezone(ZoneInfo(zone) if zone else current().tzinfo)


def format_datetime(value: datetime, style: str = "medium", zone: str | None = None,
                    with_zone: bool = False) -> str:
    """'5 dec. 2026, 10:00' for Romanian, '5. 12. 2026. 09:00' for Serbian...; ``with_zone``
    names the zone ('10:00 EET') where two zones meet (a schedule shared across the border)."""
    moment = local(value, zone)
    lang = current()
    text = babel_dates.format_datetime(moment, _style(style, "datetime"), locale=lang.locale)
    return f"{text} {zone_label(moment)}" if with_zone else text


def format_date(value: date | datetime, style: str = "medium", zone: str | None = None) -> str:
    if isinstance(value, datetime):
        value = local(value, zone).date()
    return babel_dates.format_date(value, _style(style, "date"), locale=current().locale)


def format_time(value: datetime, style: str = "short", zone: str | None = None,
                with_zone: bool = False) -> str:
    moment = local(value, zone)
    text = babel_dates.format_time(moment, _style(style, "time"), locale=current().locale)
    return f"{text} {zone_label(moment)}" if with_zone else text


def zone_label(moment: datetime) -> str:
    """The zone of an aware wall-clock time, short: 'EET'/'EEST' where CLDR has a short name
    in this language, else the offset ('GMT+02:00')."""
    return babel_dates.format_time(moment, "z", locale=current().locale)


def zone_name(zone: str | None = None) -> str:
    """A zone by its city, in the viewer's language ('București', 'Београд')."""
    return babel_dates.get_timezone_location(ZoneInfo(zone or current().zone),
                                             locale=current().locale, return_city=True)


def format_number(value: float, decimals: int | None = None) -> str:
    """'1.234,5' in Romanian, '1 234,5' in Bulgarian, '1,234.5' in English."""
    if decimals is None:
        return babel_numbers.format_decimal(value, locale=current().locale)
    pattern = "#,##0" + ("." + "0" * decimals if decimals else "")
    return babel_numbers.format_decimal(value, format=pattern, locale=current().locale,
                                        decimal_quantization=True)


def format_percent(value: float) -> str:
    """``value`` is a share (0.5 -> '50 %' in Romanian, '50%' in English)."""
    return babel_numbers.format_percent(value, locale=current().locale)


def format_duration(seconds: float,
                    style: Literal["narrow", "short", "medium", "long"] = "long") -> str:
    """A length of time in hours and minutes, in words ('1 oră și 30 de minute', '45 минута');
    under a minute, in seconds. ``style`` 'short' or 'narrow' abbreviates the units."""
    locale = current().locale
    whole = max(0, round(seconds))
    if whole < 60:
        return babel_dates.format_timedelta(timedelta(seconds=whole), format=style,
                                            granularity="second", threshold=1, locale=locale)
    hours, minutes = divmod(whole // 60, 60)
    parts = [babel_dates.format_timedelta(timedelta(hours=hours), format=style, locale=locale)
             ] if hours else []
    if minutes or not hours:
        parts.append(babel_dates.format_timedelta(timedelta(minutes=minutes), format=style,
                                                  granularity="minute", threshold=1,
                                                  locale=locale))
    return format_list(parts, locale=locale)


def format_clock(seconds: float) -> str:
    """A media position or a length as a clock, 'h:mm:ss' or 'm:ss' (the same in every language)."""
    whole = max(0, int(seconds))
    hours, rest = divmod(whole, 3600)
    minutes, secs = divmod(rest, 60)
    return f"{hours}:{minutes:02d}:{secs:02d}" if hours else f"{minutes}:{secs:02d}"


def _style(style: str, kind: str) -> str:
    if style not in ("short", "medium", "long", "full"):
        raise ValueError(f"{kind} style must be short, medium, long or full, not {style!r}")
    return style
