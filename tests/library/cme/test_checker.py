"""The checker: for each rule, a programme that breaks it and one exactly at its limit."""

from __future__ import annotations

from datetime import timedelta
from fractions import Fraction

from library.cme import (
    DistanceMaterial,
    FinalTest,
    Finding,
    ItemKind,
    Level,
    Organiser,
    OrganiserKind,
    ProgrammeKind,
    Severity,
    Speaker,
    Sponsor,
    programme_credits,
)
from tests.library.cme.helpers import (
    DAY,
    ORGANISERS,
    findings,
    full_day,
    item,
    lecture,
    pause,
    programme,
)

EVENT = ProgrammeKind.SCIENTIFIC_EVENT
COURSE = ProgrammeKind.CONTINUING_EDUCATION_COURSE
ONLINE = ProgrammeKind.DISTANCE_ONLINE
BY_POST = ProgrammeKind.DISTANCE_BY_POST
SPONSOR_REP = Speaker("Ion Ionescu", "Dr.", represents_sponsor="PharmaCo")


def test_a_compliant_day_has_no_findings() -> None:
    """Every limit of art. 5 lit. d met exactly: 2 h lecture, 15 min break after 2 h, a
    quarter of discussion, 6 effective hours."""
    assert findings(programme(*full_day())) == []
    assert findings(programme(*full_day(), kind=COURSE)) == []


# art. 5 lit. d: a single lecture lasts at most two hours.
def test_lecture_of_two_hours_is_allowed() -> None:
    assert findings(programme(lecture("l1", "09:00", "11:00")), "art. 5 lit. d") == []


def test_lecture_over_two_hours() -> None:
    [finding] = findings(programme(lecture("l1", "09:00", "11:01")), "art. 5 lit. d")[:1]
    assert finding.severity is Severity.ERROR
    assert finding.item_ref == "l1"
    assert "lecture 'l1'" in finding.message and "2025-03-10 09:00-11:01" in finding.message
    assert "at most 2 h" in finding.message


# art. 5 lit. d: discussions at most a quarter of the session.
def test_discussion_of_exactly_a_quarter() -> None:
    prog = programme(
        lecture("l", "09:00", "10:30", session="s"),
        item("d", ItemKind.DISCUSSION, "10:30", "11:00", session="s"),
    )
    assert findings(prog, "art. 5 lit. d") == []


def test_discussion_over_a_quarter_of_a_labelled_session() -> None:
    """31 min of a 2 h session: a quarter is 30 min."""
    prog = programme(
        lecture("l", "09:00", "10:29", session="s"),
        item("d", ItemKind.DISCUSSION, "10:29", "11:00", session="s"),
    )
    [finding] = findings(prog, "art. 5 lit. d")
    assert finding.severity is Severity.ERROR and finding.item_ref == "d"
    assert "session 's' on 2025-03-10" in finding.message
    assert "at most a quarter (0.50 h)" in finding.message


def test_discussion_over_a_quarter_without_session_labels() -> None:
    """Unlabelled items form a session between pauses: 40 of 120 min is a third."""
    prog = programme(
        lecture("l", "09:00", "10:20"),
        item("d", ItemKind.DISCUSSION, "10:20", "11:00"),
    )
    [finding] = findings(prog, "art. 5 lit. d")
    assert "the session 09:00-11:00 on 2025-03-10" in finding.message


# art. 5 lit. d: a 15-minute break every two hours, or 15 minutes off per 2 creditable hours.
def test_fourteen_minute_break_is_not_a_break() -> None:
    prog = programme(
        lecture("l1", "09:00", "11:00"),
        pause("b", "11:00", "11:14"),
        lecture("l2", "11:14", "13:14"),
    )
    [finding] = findings(prog, "art. 5 lit. d")
    assert finding.severity is Severity.WARNING
    assert "09:00-13:14 runs 4.23 h without a break" in finding.message
    # 4 h effective -> 2 blocks of 2 h -> 30 minutes off.
    assert "reduced by 30 minutes" in finding.message


def test_fifteen_minute_break_is_enough() -> None:
    prog = programme(
        lecture("l1", "09:00", "11:00"),
        pause("b", "11:00", "11:15"),
        lecture("l2", "11:15", "13:15"),
    )
    assert findings(prog, "art. 5 lit. d") == []


def test_a_gap_in_the_agenda_is_a_break() -> None:
    prog = programme(lecture("l1", "09:00", "11:00"), lecture("l2", "11:15", "13:15"))
    assert findings(prog, "art. 5 lit. d") == []


# art. 5 lit. d: at most 6 creditable hours a day.
def test_more_than_six_hours_a_day() -> None:
    prog = programme(*full_day(), lecture("l4", "16:15", "16:16"))
    [finding] = findings(prog, "art. 5 lit. d")
    assert finding.severity is Severity.WARNING
    assert "2025-03-10: 6.02 effective hours; at most 6 a day" in finding.message


# art. 5 lit. b: at most 6 days in a week.
def test_six_consecutive_days_are_credited() -> None:
    days = [DAY + timedelta(days=n) for n in range(6)]
    agenda = [i for n, d in enumerate(days) for i in full_day(f"d{n}", day=d)]
    assert findings(programme(*agenda), "art. 5 lit. b") == []


def test_seventh_consecutive_day() -> None:
    """Wednesday to the next Tuesday: a rolling week, not a calendar one."""
    start = DAY + timedelta(days=2)
    days = [start + timedelta(days=n) for n in range(7)]
    agenda = [i for n, d in enumerate(days) for i in full_day(f"d{n}", day=d)]
    [finding] = findings(programme(*agenda), "art. 5 lit. b")
    assert finding.severity is Severity.WARNING
    assert finding.message.startswith("2025-03-18 is the 7th programme day")


# art. 5 lit. c: at most 60 credits.
def test_sixty_credits_exactly() -> None:
    """10 days of 6 h (Mon-Sat, Mon-Thu), national: 60 credits."""
    days = [DAY + timedelta(days=n) for n in (0, 1, 2, 3, 4, 5, 7, 8, 9, 10)]
    agenda = [i for n, d in enumerate(days) for i in full_day(f"d{n}", day=d)]
    prog = programme(*agenda)
    assert programme_credits(prog).credits == 60
    assert findings(prog, "art. 5 lit. c") == []


def test_over_sixty_credits() -> None:
    days = [DAY + timedelta(days=n) for n in (0, 1, 2, 3, 4, 5, 7, 8, 9, 10, 11)]
    agenda = [i for n, d in enumerate(days) for i in full_day(f"d{n}", day=d)]
    [finding] = findings(programme(*agenda), "art. 5 lit. c")
    assert finding.severity is Severity.WARNING
    assert "66.00 credits" in finding.message


# art. 5 lit. g: parallel sessions counted once.
def test_parallel_sessions() -> None:
    prog = programme(
        lecture("a", "09:00", "11:00", track="A"),
        lecture("b", "09:00", "10:30", track="B"),
    )
    [finding] = findings(prog, "art. 5 lit. g")
    assert finding.severity is Severity.WARNING
    assert "tracks A, B are credited once, at the longest (A, 2 h of 3.50 h declared)" in (
        finding.message
    )


def test_consecutive_sessions_on_other_tracks_are_not_parallel() -> None:
    prog = programme(
        lecture("a", "09:00", "10:00", track="A"), lecture("b", "10:00", "11:00", track="B")
    )
    assert findings(prog, "art. 5 lit. g") == []


# art. 5 lit. f: satellite symposia and what lies outside opening and closing.
def test_satellite_symposium_and_items_outside_opening_closing() -> None:
    prog = programme(
        lecture("early", "08:00", "09:00"),
        item("open", ItemKind.OPENING, "09:00", "09:15", speaker=Speaker("Rector", "Prof. dr.")),
        lecture("l", "09:15", "11:00"),
        item("close", ItemKind.CLOSING, "11:00", "11:10"),
        item("sat", ItemKind.SATELLITE_SYMPOSIUM, "12:00", "13:00", title="Sponsored update"),
    )
    found = findings(prog, "art. 5 lit. f")
    assert {f.item_ref for f in found} == {"early", "sat"}
    assert all(f.severity is Severity.WARNING for f in found)


# art. 6 alin. (2) and art. 12 alin. (1): deadlines.
def test_request_thirty_days_before_is_in_time() -> None:
    prog = programme(*full_day(), request_filed_on=DAY - timedelta(days=30))
    assert findings(prog, "art. 6 alin. (2)") == []


def test_request_twenty_nine_days_before() -> None:
    prog = programme(*full_day(), request_filed_on=DAY - timedelta(days=29))
    [finding] = findings(prog, "art. 6 alin. (2)")
    assert finding.severity is Severity.ERROR
    assert "filed on 2025-02-09, 29 days before" in finding.message
    assert "(by 2025-02-08)" in finding.message


def test_final_programme_five_and_four_days_before() -> None:
    on_time = programme(*full_day(), final_programme_filed_on=DAY - timedelta(days=5))
    assert findings(on_time, "art. 6 alin. (2)") == []
    late = programme(*full_day(), final_programme_filed_on=DAY - timedelta(days=4))
    [finding] = findings(late, "art. 6 alin. (2)")
    assert finding.severity is Severity.ERROR and "final scientific programme" in finding.message


def test_dates_not_yet_filed_are_reminders() -> None:
    prog = programme(*full_day(), request_filed_on=None, final_programme_filed_on=None)
    found = findings(prog, "art. 6 alin. (2)")
    assert [f.severity for f in found] == [Severity.WARNING, Severity.WARNING]
    assert "file it by 2025-02-08" in found[0].message
    assert "file it by 2025-03-05" in found[1].message


def test_distance_request_sixty_and_fifty_nine_days_before() -> None:
    def filed(days: int) -> list[Finding]:
        prog = programme(
            kind=ONLINE,
            learning_hours=Fraction(6),
            final_test=FinalTest(10),
            request_filed_on=DAY - timedelta(days=days),
        )
        return findings(prog, "art. 12 alin. (1)")

    assert filed(60) == []
    [finding] = filed(59)
    assert finding.severity is Severity.ERROR and "at least 60 days" in finding.message


# art. 10 lit. a, art. 11 lit. b: online at most 18 hours.
def test_online_programme_of_eighteen_hours() -> None:
    prog = programme(kind=ONLINE, learning_hours=Fraction(18), final_test=FinalTest(30))
    assert findings(prog) == []


def test_online_programme_over_eighteen_hours() -> None:
    prog = programme(kind=ONLINE, learning_hours=Fraction(37, 2), final_test=FinalTest(31))
    [error] = findings(prog, "art. 10 lit. a")
    assert error.severity is Severity.ERROR and "18.50 h" in error.message
    assert [f.severity for f in findings(prog, "art. 11 lit. b")] == [Severity.WARNING]
    assert programme_credits(prog).credits == 18


# art. 10 lit. e: 10 questions per 6 effective hours, 75%, two attempts.
def test_online_test_questions_per_six_hours() -> None:
    """18 h -> 30 questions; 7 h -> 10 * 7 / 6 = 11.67 -> 12; 3 h -> still 10."""
    assert (
        findings(programme(kind=ONLINE, learning_hours=Fraction(18), final_test=FinalTest(30)))
        == []
    )
    [short] = findings(
        programme(kind=ONLINE, learning_hours=Fraction(18), final_test=FinalTest(29)),
        "art. 10 lit. e",
    )
    assert "29 questions; it needs at least 30" in short.message
    assert (
        findings(programme(kind=ONLINE, learning_hours=Fraction(7), final_test=FinalTest(12))) == []
    )
    assert findings(
        programme(kind=ONLINE, learning_hours=Fraction(7), final_test=FinalTest(11)),
        "art. 10 lit. e",
    )
    assert (
        findings(programme(kind=ONLINE, learning_hours=Fraction(3), final_test=FinalTest(10))) == []
    )
    assert findings(
        programme(kind=ONLINE, learning_hours=Fraction(3), final_test=FinalTest(9)),
        "art. 10 lit. e",
    )


def test_online_test_pass_mark_and_attempts() -> None:
    hours = Fraction(6)
    ok = FinalTest(10, pass_ratio=Fraction(3, 4), max_attempts=2)
    assert findings(programme(kind=ONLINE, learning_hours=hours, final_test=ok)) == []
    low = FinalTest(10, pass_ratio=Fraction(74, 100))
    [f] = findings(programme(kind=ONLINE, learning_hours=hours, final_test=low), "art. 10 lit. e")
    assert "74% correct; it must be at least 75%" in f.message
    many = FinalTest(10, max_attempts=3)
    [f] = findings(programme(kind=ONLINE, learning_hours=hours, final_test=many), "art. 10 lit. e")
    assert "3 attempts; at most 2" in f.message


def test_distance_programme_without_test() -> None:
    [f] = findings(
        programme(kind=ONLINE, learning_hours=Fraction(6), final_test=None), "art. 9 lit. b"
    )
    assert f.severity is Severity.ERROR
    [f] = findings(
        programme(kind=BY_POST, learning_hours=Fraction(2), final_test=None), "art. 9 lit. a"
    )
    assert f.severity is Severity.ERROR


# art. 10 lit. d: 5-8 pages of 2,500 characters per hour, at most two figures per page.
def test_online_pages_per_hour() -> None:
    """6 h: 30 to 48 pages of 2,500 characters; 15 pages of 5,000 characters = 30 pages."""

    def check(pages: int, chars: int = 2500, figures: int = 2) -> list[str]:
        material = DistanceMaterial(pages, chars, figures)
        prog = programme(
            kind=ONLINE, learning_hours=Fraction(6), final_test=FinalTest(10), material=material
        )
        return [f.message for f in findings(prog, "art. 10 lit. d")]

    assert check(30) == check(48) == check(15, 5000) == []
    assert check(29) and check(49)
    assert check(30, figures=3) == ["3 figures or tables on a page; at most 2"]


# art. 10 lit. b, c and art. 11 lit. a: journal articles by post.
def test_journal_article() -> None:
    def check(pages: int, questions: int = 10, hours: int = 2) -> list[str]:
        prog = programme(
            kind=BY_POST,
            learning_hours=Fraction(hours),
            material=DistanceMaterial(pages, 3000),
            final_test=FinalTest(questions),
        )
        return [f.article for f in findings(prog)]

    assert check(5) == check(8) == []
    assert check(4) == check(9) == ["art. 10 lit. b"]
    assert check(5, questions=9) == ["art. 10 lit. c"]
    assert check(5, hours=3) == ["art. 11 lit. a"]


# art. 17 alin. (1): sponsors.
def test_sponsor_representative_opening_the_programme() -> None:
    prog = programme(
        item("open", ItemKind.OPENING, "08:45", "09:00", speaker=SPONSOR_REP),
        *full_day(),
        sponsors=(Sponsor("PharmaCo"),),
    )
    [f] = findings(prog, "art. 17 alin. (1)")
    assert f.severity is Severity.ERROR and f.item_ref == "open"
    assert "sponsor 'PharmaCo' may not open the programme" in f.message


def test_sponsor_representative_closing_or_lecturing() -> None:
    prog = programme(
        *full_day(),
        item("talk", ItemKind.LECTURE, "16:15", "16:30", speaker=SPONSOR_REP, title="Our drug"),
        item("close", ItemKind.CLOSING, "16:30", "16:45", speaker=SPONSOR_REP),
        sponsors=(Sponsor("PharmaCo"),),
    )
    found = findings(prog, "art. 17 alin. (1)")
    assert [(f.item_ref, "close the programme" in f.message) for f in found] == [
        ("talk", False),
        ("close", True),
    ]


def test_sponsor_announcement_is_allowed() -> None:
    prog = programme(
        *full_day(),
        item("dinner", ItemKind.ANNOUNCEMENT, "16:15", "16:20", speaker=SPONSOR_REP),
        sponsors=(Sponsor("PharmaCo"),),
    )
    assert findings(prog) == []


def test_sponsor_not_listed() -> None:
    prog = programme(
        *full_day(), item("dinner", ItemKind.ANNOUNCEMENT, "16:00", "16:05", speaker=SPONSOR_REP)
    )
    [f] = findings(prog, "art. 16 alin. (1)")
    assert "does not list among its sponsors" in f.message


# art. 16 alin. (1): the programme names organisers, place, speakers and titles.
def test_programme_details() -> None:
    prog = programme(
        lecture("l1", "09:00", "10:00", speaker=Speaker("Ana Popescu", "")),
        lecture("l2", "10:00", "11:00", title=""),
        lecture("l3", "11:15", "12:00", speaker=None),
        venue="",
        organisers=(),
    )
    messages = [f.message for f in findings(prog, "art. 16 alin. (1)")]
    assert messages == [
        "the programme must name its organisers",
        "the programme must state the place (venue)",
        (
            "lecture 'l1' 'Lecture l1' on 2025-03-10 09:00-10:00: speaker 'Ana Popescu' has no"
            " scientific or professional title"
        ),
        "lecture 'l2' on 2025-03-10 10:00-11:00 has no exact title",
        "lecture 'l3' 'Lecture l3' on 2025-03-10 11:15-12:00 has no speaker",
    ]


# art. 6 alin. (1): the detailed programme by the hour.
def test_event_without_agenda() -> None:
    [f] = findings(programme(), "art. 6 alin. (1)")
    assert f.severity is Severity.ERROR


# art. 14 lit. b: national events.
def test_local_provider_cannot_hold_a_national_event() -> None:
    local = (
        Organiser("Spitalul Judetean", OrganiserKind.ACCREDITED_PROVIDER, Level.LOCAL),
    ) + ORGANISERS
    [f] = findings(programme(*full_day(), organisers=local), "art. 14 lit. b")
    assert "'Spitalul Judetean' is local" in f.message


def test_at_most_two_national_events_a_year() -> None:
    prog = programme(*full_day())
    assert findings(prog, "art. 14 lit. b", provider_national_events_in_year=1) == []
    [f] = findings(prog, "art. 14 lit. b", provider_national_events_in_year=2)
    assert "already holds 2 national events in 2025" in f.message


# art. 24 alin. (4): a non-national form needs the territorial college.
def test_local_event_needs_the_territorial_college() -> None:
    assert findings(programme(*full_day(), level=Level.LOCAL), "art. 24 alin. (4)") == []
    alone = (ORGANISERS[0],)
    [f] = findings(
        programme(*full_day(), level=Level.REGIONAL, organisers=alone), "art. 24 alin. (4)"
    )
    assert f.severity is Severity.ERROR and "regional programme" in f.message


# art. 26 alin. (2): a course ends with a final evaluation.
def test_course_without_final_test() -> None:
    [f] = findings(programme(*full_day(), kind=COURSE, final_test=None), "art. 26 alin. (2)")
    assert f.severity is Severity.WARNING


# art. 8 lit. i: practical stages abroad without international credits.
def test_practical_stage_abroad() -> None:
    stage = item("st", ItemKind.PRACTICAL_STAGE, "09:00", "11:00")
    prog = programme(stage, kind=COURSE, level=Level.INTERNATIONAL)
    [f] = findings(prog, "art. 8 lit. i")
    assert f.severity is Severity.WARNING
    assert programme_credits(prog).credits == 0
    assert (
        findings(
            programme(stage, kind=COURSE, level=Level.INTERNATIONAL, foreign_credits=4),
            "art. 8 lit. i",
        )
        == []
    )


def test_errors_come_first() -> None:
    prog = programme(lecture("l1", "09:00", "11:30"), request_filed_on=None)
    severities = [f.severity for f in findings(prog)]
    assert severities == sorted(severities, key=lambda s: s is not Severity.ERROR)
    assert severities[0] is Severity.ERROR
