"""The numbers of the CMR standard crediting procedure (Procedura standard din 18 ianuarie 2013).

Every limit the engine applies lives here next to the article that sets it, so a reviewer can
hold this file against the text. Durations are in minutes, ratios are exact fractions: credits
are compared at their boundaries (exactly 6 h, exactly a quarter), where floats would lie.
"""

from __future__ import annotations

from fractions import Fraction

# art. 5 lit. b: a programme running through a week is credited for at most 6 days.
MAX_DAYS_PER_WEEK = 6
WEEK_DAYS = 7

# art. 5 lit. c: at most 60 credits for one programme.
MAX_CREDITS_PER_PROGRAMME = 60

# art. 5 lit. d: a single lecture (prelegere) lasts at most two hours.
MAX_LECTURE_MINUTES = 120
# art. 5 lit. d: discussions take at most a quarter of the session.
MAX_DISCUSSION_SHARE = Fraction(1, 4)
# art. 5 lit. d: a pause of at least 15 minutes at every two hours of programme ...
MIN_BREAK_MINUTES = 15
MAX_MINUTES_WITHOUT_BREAK = 120
# ... otherwise 15 minutes come off for every two hours of the at most 6 creditable hours a day.
BREAK_PENALTY_MINUTES = 15
BREAK_PENALTY_BLOCK_MINUTES = 120
MAX_CREDITABLE_MINUTES_PER_DAY = 360

# art. 6 alin. (2): request at least 30 days before the start, final programme at least 5 days.
REQUEST_DAYS_BEFORE_START = 30
FINAL_PROGRAMME_DAYS_BEFORE_START = 5
# art. 12 alin. (1): distance programmes (EMCD) request at least 60 days before the start.
DISTANCE_REQUEST_DAYS_BEFORE_START = 60

# art. 8 lit. b: Balint-type group methods earn 75% of their effective duration.
GROUP_METHOD_FACTOR = Fraction(3, 4)
# art. 8 lit. c: a course with an associated practical stage earns 125% of its theory.
PRACTICAL_STAGE_FACTOR = Fraction(5, 4)
# art. 8 lit. d: over 75% practical activity: credited by the effective hours of activity.
MOSTLY_PRACTICAL_SHARE = Fraction(3, 4)
# art. 8 lit. e: teachers and certified trainers: the hours they delivered, times 2.
TRAINER_FACTOR = 2
# art. 8 lit. h: a course abroad without international credits: 6 per day, at most 60.
ABROAD_COURSE_CREDITS_PER_DAY = 6
ABROAD_COURSE_MAX_CREDITS = 60

# art. 10 lit. a / art. 11 lit. b: an online (EMCD) programme: at most 18 hours = 18 credits.
MAX_DISTANCE_HOURS = 18
# art. 10 lit. b: 5-8 printed pages of a journal article = two effective hours.
JOURNAL_MIN_PAGES = 5
JOURNAL_MAX_PAGES = 8
JOURNAL_ARTICLE_HOURS = 2
# art. 11 lit. a: at most two credits per journal issue.
JOURNAL_MAX_CREDITS_PER_ISSUE = 2
# art. 10 lit. b, d: at most two figures or tables per page.
MAX_FIGURES_PER_PAGE = 2
# art. 10 lit. d: 5-8 pages of 2,500 characters = one hour of learning = one credit.
ONLINE_CHARACTERS_PER_PAGE = 2500
ONLINE_MIN_PAGES_PER_HOUR = 5
ONLINE_MAX_PAGES_PER_HOUR = 8
# art. 10 lit. c, e: at least 10 questions (per 6 effective hours online), pass at 75%.
MIN_TEST_QUESTIONS = 10
TEST_QUESTIONS_HOURS = 6
MIN_PASS_RATIO = Fraction(3, 4)
# art. 10 lit. e: at most two attempts at the online test.
MAX_TEST_ATTEMPTS = 2
# art. 11 lit. c: at least 30 days between two EMCD participations.
DISTANCE_MIN_DAYS_APART = 30
# art. 11 lit. e: EMCD coordinators, authors and tutors: three times their part's credits.
DISTANCE_CONTRIBUTOR_FACTOR = 3

# art. 14 lit. a: local and regional events earn 75% of their effective duration.
LOCAL_EVENT_FACTOR = Fraction(3, 4)
# art. 14 lit. b: a provider holds at most two nationally credited events a year.
MAX_NATIONAL_EVENTS_PER_PROVIDER_YEAR = 2
# art. 14 lit. c: lecturers (conferențiari) at an event: twice the event's credits.
LECTURER_FACTOR = 2
# art. 14 lit. d: papers, posters, oral communications: up to 3 works; first author half of
# the event's credits per work, co-author a quarter.
MAX_WORKS = 3
FIRST_AUTHOR_SHARE = Fraction(1, 2)
CO_AUTHOR_SHARE = Fraction(1, 4)
# art. 14 lit. f: an event abroad without international credits: 6 per day, at most 18.
ABROAD_EVENT_CREDITS_PER_DAY = 6
ABROAD_EVENT_MAX_CREDITS = 18
