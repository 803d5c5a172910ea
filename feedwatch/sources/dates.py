"""Feed dates feedparser reads wrong or not at all, read right.

feedparser takes any time-zone name it does not know as UTC, so Moscow's "MSK" (on most
Russian news feeds) or Central Europe's "CET" put an item hours off, without a word;
"GMT+3" and Russian or Ukrainian month names give no date at all. :func:`parse_date` is
registered as a feedparser date handler (both readers, fastfeed and feedparser, call
feedparser's date parsing), so it answers only those forms and leaves every other date to
feedparser's own handlers.
"""

from __future__ import annotations

import re
import time
from datetime import datetime, timedelta

# Zones feedparser does not know (it knows UT, GMT, Z and the North American ones).
_ZONES = {
    "msk": 3, "msd": 4, "cet": 1, "cest": 2, "met": 1, "mest": 2, "eet": 2, "eest": 3,
    "wet": 0, "west": 1, "bst": 1, "utc": 0, "trt": 3, "sast": 2, "hkt": 8, "sgt": 8,
    "jst": 9, "kst": 9, "aest": 10, "aedt": 11, "nzst": 12, "nzdt": 13, "мск": 3,
}  # fmt: skip
_MONTHS = {
    "jan": 1, "feb": 2, "mar": 3, "apr": 4, "may": 5, "jun": 6, "jul": 7, "aug": 8,
    "sep": 9, "oct": 10, "nov": 11, "dec": 12,
    # Russian and Ukrainian, by stem (genitive "ноября", nominative "листопад", "лист.")
    "янв": 1, "фев": 2, "мар": 3, "апр": 4, "мая": 5, "май": 5, "июн": 6, "июл": 7,
    "авг": 8, "сен": 9, "окт": 10, "ноя": 11, "дек": 12,
    "січ": 1, "лют": 2, "бер": 3, "кві": 4, "тра": 5, "чер": 6, "лип": 7, "сер": 8,
    "вер": 9, "жов": 10, "лис": 11, "гру": 12,
}  # fmt: skip
_ENGLISH = re.compile(r"[a-z]{3}")
_DATE = re.compile(
    r"(?:\w{2,}\.?,?\s+)?"  # day name, any language
    r"(\d{1,2})\s+(\w+)\.?,?\s+(\d{4}),?\s+(?:г\.?\s+|р\.?\s+)?"
    r"(\d{1,2}):(\d{2})(?::(\d{2}))?"
    r"(?:\s*([^\W\d_]{2,5})?\s*(?:([+-])(\d{1,2})(?::?(\d{2}))?)?)?\s*",
    re.IGNORECASE,
)


def parse_date(value: str) -> time.struct_time | None:
    """A UTC time tuple for the RFC 822-like dates feedparser gets wrong, else None."""
    value = value.strip()
    if len(value) > 64:  # (no date is longer; the pattern must never meet a hostile one)
        return None
    m = _DATE.fullmatch(value)
    if m is None:
        return None
    day, month_name, year, hour, minute, second, zone, sign, hours, minutes = m.groups()
    low = month_name.lower()
    month = _MONTHS.get(low[:3])
    if month is None:
        return None
    zone = (zone or "").lower()
    english = _ENGLISH.fullmatch(low[:3]) is not None
    if sign is not None:
        if zone not in ("", "gmt", "utc", "ut"):
            return None
        if english and not zone and len(hours) == 2 and minutes is not None:
            return None  # "+0300": feedparser reads it right
        if int(hours) > 14 or int(minutes or 0) > 59:
            return None  # no such zone: feedparser's call
        offset = int(hours) * 60 + int(minutes or 0)
        offset = -offset if sign == "-" else offset
    elif zone in _ZONES:
        offset = _ZONES[zone] * 60
    else:
        return None  # a zone feedparser knows, or no zone: its call
    try:
        stamp = datetime(int(year), month, int(day), int(hour), int(minute), int(second or 0))
        return (stamp - timedelta(minutes=offset)).utctimetuple()
    except (ValueError, OverflowError):
        return None
