"""The names the CME pages give to the engine's values (a programme's kind, level and status,
an agenda item's kind, an organiser's kind, an audit mismatch), in the viewer's language.

The values stay the API's (``"scientific_event"``, ``"draft"``); these are what people read.
``labels()`` renders every map for the current request, for a template's context or a page
script's data."""

from __future__ import annotations

from library.i18n import LazyText, lazy, shown

PROGRAMME_KINDS: dict[str, LazyText] = {
    "postgraduate_course": lazy("Postgraduate course"),
    "continuing_education_course": lazy("Continuing education course"),
    "scientific_event": lazy("Scientific event"),
    "distance_by_post": lazy("Distance programme (journal)"),
    "distance_online": lazy("Online programme (EMCD)"),
}
LEVELS: dict[str, LazyText] = {
    "local": lazy("local"),
    "regional": lazy("regional"),
    "national": lazy("national"),
    "international": lazy("international"),
}
STATUSES: dict[str, LazyText] = {
    "draft": lazy("draft"),
    "submitted": lazy("submitted"),
}
ITEM_KINDS: dict[str, LazyText] = {
    "lecture": lazy("lecture"),
    "discussion": lazy("discussion"),
    "practical_demonstration": lazy("practical demonstration"),
    "practical_stage": lazy("practical stage"),
    "group_method": lazy("group method (Balint)"),
    "break": lazy("break"),
    "opening": lazy("opening"),
    "closing": lazy("closing"),
    "announcement": lazy("announcement"),
    "satellite_symposium": lazy("satellite symposium"),
}
ORGANISER_KINDS: dict[str, LazyText] = {
    "accredited_provider": lazy("accredited provider"),
    "territorial_college": lazy("territorial college"),
    "university": lazy("university"),
    "other": lazy("other organiser"),
}
MISMATCHES: dict[str, LazyText] = {
    "test_without_attendance": lazy("test without attendance"),
    "attendance_without_login": lazy("attendance without login"),
    "attempt_outside_window": lazy("attempt outside the window"),
    "submitted_after_deadline": lazy("submitted after the deadline"),
    "attempt_not_logged": lazy("attempt not logged"),
    "logged_without_record": lazy("logged without a record"),
    "score_differs": lazy("score differs"),
    "two_places_at_once": lazy("two places at once"),
    "check_in_during_own_session": lazy("check-in during own session"),
    "check_answered_without_watching": lazy("check answered without watching"),
}


def label(table: dict[str, LazyText], value: object) -> str:
    """The name of ``value`` (an enum or its value) in the viewer's language; an unknown value
    as it is."""
    key = getattr(value, "value", value)
    found = table.get(str(key))
    return shown(found) if found is not None else str(key).replace("_", " ")


def labels() -> dict[str, dict[str, str]]:
    """Every map, rendered in the current language."""
    return {
        "kinds": {k: shown(v) for k, v in PROGRAMME_KINDS.items()},
        "levels": {k: shown(v) for k, v in LEVELS.items()},
        "statuses": {k: shown(v) for k, v in STATUSES.items()},
        "item_kinds": {k: shown(v) for k, v in ITEM_KINDS.items()},
        "organiser_kinds": {k: shown(v) for k, v in ORGANISER_KINDS.items()},
        "mismatches": {k: shown(v) for k, v in MISMATCHES.items()},
    }
