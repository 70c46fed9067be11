"""Input limits and parsers shared by the CLI, the importers and the Discord commands.

Every user-supplied field goes through one of these before it reaches SQLite, so the
limits hold whatever the entry point. Errors are :class:`InvalidInputError` with a
message that names the field and the limit.
"""

from __future__ import annotations

import calendar
import re
import unicodedata
from collections.abc import Iterable
from typing import Literal, overload
from urllib.parse import urlsplit

from rapidfuzz import fuzz, process, utils

from bot.errors import InvalidInputError
from bot.models import EvidenceStatus, SpeakerKind

# Sized so that a field fits Discord's modal input (4,000) and renders within embed limits.
LIMITS: dict[str, int] = {
    "claim": 1500,
    "quote": 1500,
    "question": 4000,
    "name": 100,
    "alias": 100,
    "role": 200,
    "said_where": 200,
    "tag": 40,
    "title": 200,
    "slug": 64,
    "place": 200,
    "summary": 2000,
    "details": 1000,
    "url": 500,
    "publisher": 100,
    "ref": 100,
    "reason": 300,
    "actor": 100,
    "setting": 200,
    "setting_key": 64,
    "said_at": 40,
    "incident": 200,  # an incident named by slug, title or alias
}
MAX_TAGS = 20
MAX_ALIASES = 30
MAX_LINKS = 10
MAX_SOURCES = 10

_CONTROL = {"Cc", "Cf", "Cs", "Co", "Cn"}
_SLUG_RE = re.compile(r"^[a-z0-9]+(?:-[a-z0-9]+)*$")
_MONTHS = {name.lower(): i for i, name in enumerate(calendar.month_name) if name}
_MONTHS.update({name.lower(): i for i, name in enumerate(calendar.month_abbr) if name})
_MONTHS["sept"] = 9


@overload
def clean_text(value: object, field: str, *, required: Literal[True], multiline: bool = True) -> str: ...
@overload
def clean_text(value: object, field: str, *, required: bool = False, multiline: bool = True) -> str | None: ...
def clean_text(value: object, field: str, *, required: bool = False, multiline: bool = True) -> str | None:
    """Strip, drop control characters (keeping newlines where allowed) and check the length limit."""
    if value is None:
        if required:
            raise InvalidInputError(f"{field.replace('_', ' ').capitalize()} is required.", field)
        return None
    if not isinstance(value, str):
        value = str(value)
    value = unicodedata.normalize("NFC", value)
    keep = {"\n"} if multiline else set()
    value = "".join(
        ch if ch in keep else (" " if ch in "\t\r\n" else ch)
        for ch in value
        if ch in keep or ch in "\t\r\n" or unicodedata.category(ch) not in _CONTROL
    ).strip()
    if not value:
        if required:
            raise InvalidInputError(f"{field.replace('_', ' ').capitalize()} is required.", field)
        return None
    limit = LIMITS.get(field)
    if limit is not None and len(value) > limit:
        raise InvalidInputError(
            f"{field.replace('_', ' ').capitalize()} is {len(value)} characters long; the limit is {limit}.", field
        )
    return value


def clean_list(values: object, field: str, *, limit: int) -> tuple[str, ...]:
    """A list of short strings (tags, aliases, links): cleaned, de-duplicated case-insensitively, order kept."""
    if values is None:
        return ()
    if isinstance(values, str):
        values = [part for part in re.split(r"[,;|]", values)]
    if isinstance(values, dict | bytes) or not isinstance(values, Iterable):
        raise InvalidInputError(f"{field.capitalize()} must be a list.", field)
    out: list[str] = []
    seen: set[str] = set()
    for raw in values:
        item = clean_text(raw, field, multiline=False)
        if item and item.casefold() not in seen:
            seen.add(item.casefold())
            out.append(item)
    if len(out) > limit:
        raise InvalidInputError(f"At most {limit} {field}s are allowed; got {len(out)}.", field)
    return tuple(out)


def clean_tags(values: object) -> tuple[str, ...]:
    return tuple(tag.lower() for tag in clean_list(values, "tag", limit=MAX_TAGS))


def clean_url(value: object, field: str = "url") -> str | None:
    url = clean_text(value, "url", multiline=False)
    if url is None:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc or " " in url:
        raise InvalidInputError(f"{field.capitalize()} must be an http(s) link, like https://example.org/page.", field)
    return url


def clean_slug(value: object) -> str:
    slug = clean_text(value, "slug", required=True, multiline=False)
    assert slug is not None
    slug = slug.lower()
    if not _SLUG_RE.match(slug):
        raise InvalidInputError(
            "An incident slug uses lowercase letters, digits and single dashes, like crocus-city-hall-attack-2024.",
            "slug",
        )
    return slug


def slugify(text: str) -> str:
    ascii_text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    slug = re.sub(r"[^a-z0-9]+", "-", ascii_text.lower()).strip("-")
    return slug[: LIMITS["slug"]].strip("-") or "incident"


def parse_status(value: object) -> EvidenceStatus:
    if value is None or (isinstance(value, str) and not value.strip()):
        return EvidenceStatus.UNKNOWN
    key = re.sub(r"[\s-]+", "_", str(value).strip().lower())
    aliases = {"none": "not_presented", "no_evidence": "not_presented", "not_shown": "not_presented"}
    key = aliases.get(key, key)
    try:
        return EvidenceStatus(key)
    except ValueError:
        allowed = ", ".join(s.value.replace("_", " ") for s in EvidenceStatus)
        raise InvalidInputError(
            f"Unknown evidence status {value!r}; use one of: {allowed}.", "evidence_status"
        ) from None


def parse_kind(value: object) -> SpeakerKind:
    if value is None or (isinstance(value, str) and not value.strip()):
        return SpeakerKind.PERSON
    key = str(value).strip().lower()
    key = {"organization": "organisation", "org": "organisation"}.get(key, key)
    try:
        return SpeakerKind(key)
    except ValueError:
        allowed = ", ".join(k.value for k in SpeakerKind)
        raise InvalidInputError(f"Unknown speaker kind {value!r}; use one of: {allowed}.", "kind") from None


def looks_like_date(text: str) -> bool:
    """Whether text was meant as a date: it starts with a digit or a month name ('2024-13-01', 'Marhc 2024' is not;
    'March 2024', '23 March'). 'Channel 1 broadcast' is a venue that happens to hold a number."""
    words = re.findall(r"[A-Za-z]+|\d+", text)
    return bool(words) and (words[0].isdigit() or words[0].lower() in _MONTHS)


def parse_partial_date(value: object) -> str | None:
    """Parse '2024-03-23', '2024-03', '2024', 'March 2024', '23 March 2024', 'March 23, 2024' into ISO form
    at the precision given (YYYY, YYYY-MM or YYYY-MM-DD)."""
    text = clean_text(value, "said_at", multiline=False) if value is not None else None
    if not text:
        return None
    text = text.strip().rstrip(".")
    iso = re.fullmatch(r"(\d{4})(?:-(\d{1,2})(?:-(\d{1,2}))?)?", text)
    if iso:
        year, month, day = iso.groups()
        return _checked_date(int(year), int(month) if month else None, int(day) if day else None, text)
    words = re.findall(r"[A-Za-z]+|\d+", text)
    month = day = year = None
    for word in words:
        low = word.lower()
        if low in _MONTHS and month is None:
            month = _MONTHS[low]
        elif word.isdigit() and len(word) == 4 and year is None:
            year = int(word)
        elif word.isdigit() and len(word) <= 2 and day is None:
            day = int(word)
        elif low in ("st", "nd", "rd", "th", "of"):
            continue
        else:
            year = None
            break
    if year is None or (day is not None and month is None):
        raise InvalidInputError(
            f"Could not read the date {text!r}; write it like 2024-03-23, 2024-03, March 2024 or 23 March 2024.",
            "said_at",
        )
    return _checked_date(year, month, day, text)


def _checked_date(year: int, month: int | None, day: int | None, text: str) -> str:
    if not 1900 <= year <= 2100:
        raise InvalidInputError(f"The year in {text!r} is out of range (1900-2100).", "said_at")
    if month is None:
        return f"{year:04d}"
    if not 1 <= month <= 12:
        raise InvalidInputError(f"The month in {text!r} is not a month.", "said_at")
    if day is None:
        return f"{year:04d}-{month:02d}"
    if not 1 <= day <= calendar.monthrange(year, month)[1]:
        raise InvalidInputError(f"{text!r} is not a day of that month.", "said_at")
    return f"{year:04d}-{month:02d}-{day:02d}"


def format_partial_date(value: str | None) -> str:
    """'2024-03-23' → '23 March 2024'; '2024-03' → 'March 2024'; '2024' → '2024'."""
    if not value:
        return "date unknown"
    parts = value.split("-")
    try:
        if len(parts) == 3:
            return f"{int(parts[2])} {calendar.month_name[int(parts[1])]} {parts[0]}"
        if len(parts) == 2:
            return f"{calendar.month_name[int(parts[1])]} {parts[0]}"
    except (ValueError, IndexError):
        return value
    return value


def closest_names(text: str, names: dict[str, list[str]], limit: int = 3) -> list[str]:
    """The keys whose names are closest to ``text``, best first (for "did you mean"): ``names`` maps each
    key (a slug, a speaker's name) to every name it goes by."""
    choices = [(key, name) for key, values in names.items() for name in values]
    if not choices or not text.strip():
        return []
    scored = process.extract(
        text,
        [name for _, name in choices],
        scorer=fuzz.WRatio,
        processor=utils.default_process,
        limit=limit * 3,
        score_cutoff=60,
    )
    out: list[str] = []
    for _, _, index in scored:
        key = choices[index][0]
        if key not in out:
            out.append(key)
    return out[:limit]
