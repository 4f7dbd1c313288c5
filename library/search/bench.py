"""``medroom bench search``: search latency with 10,000 generated lessons.

Lessons in four languages (English, Romanian, Serbian, Bulgarian) with chapters, notes, tags
and instructors are generated from a seeded vocabulary and written in bulk; their search
documents are built by the same code the app uses (``documents_for``). Then 200+ varied
queries run through ``search()`` end to end (ranking, filters, access, the matching chapter and
snippet), once to warm up and once timed, as a curator (every lesson) and as a student
(published lessons of two courses). SQLite always; PostgreSQL too with ``--database-url`` or
``MEDROOM_TEST_POSTGRES_URL`` (a throwaway database is created and dropped). The last line is
JSON.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import secrets
import statistics
import tempfile
import time
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, text

from library.courses import CourseAccess
from library.db import Database, throwaway_postgres_database
from library.models import (
    Course,
    Lesson,
    LessonChapter,
    LessonCourse,
    LessonNote,
    SearchDocument,
    SearchLesson,
)
from library.search.index import documents_for, lesson_row
from library.search.query import Filters, search

TARGET_P95_MS = 50.0
SPECIALTIES = ("Neurosurgery", "Otorhinolaryngology", "Gastroenterology")
LANGUAGES = ("en", "ro", "sr", "bg")
INSTRUCTORS = ("Dr. Ana Popescu", "Dr. Ion Ionescu", "Dr. Marko Petrović", "Д-р Иван Петров",
               "Dr. Elena Marin", "Dr. Jovana Nikolić")
WORDS = {
    "en": ["craniotomy", "dura", "tumour", "resection", "haemostasis", "closure", "septum", "cartilage", "flap", "polyp", "colonoscopy", "biopsy", "stent", "endoscope", "sinus", "airway", "suture", "exposure", "margin", "nerve", "aneurysm", "clipping", "drainage", "ventricle", "pituitary", "mucosa", "bleeding", "cautery", "snare", "ligation", "anastomosis", "lesion", "catheter", "microscope", "navigation", "spine", "disc", "fusion"],
    "ro": ["craniotomie", "dura", "tumoră", "rezecție", "hemostază", "închidere", "sept", "cartilaj", "lambou", "polip", "colonoscopie", "biopsie", "endoscop", "sinus", "sutură", "expunere", "margine", "nerv", "anevrism", "drenaj", "ventricul", "hipofiză", "mucoasă", "sângerare", "cauterizare", "ligatură", "leziune", "cateter"],
    "sr": ["kraniotomija", "dura", "tumor", "resekcija", "hemostaza", "zatvaranje", "septum", "hrskavica", "režanj", "polip", "kolonoskopija", "biopsija", "endoskop", "sinus", "šav", "izlaganje", "ivica", "nerv", "aneurizma", "drenaža", "komora", "hipofiza", "sluznica", "krvarenje", "lezija", "kateter"],
    "bg": ["краниотомия", "дура", "тумор", "резекция", "хемостаза", "затваряне", "преграда", "хрущял", "ламбо", "полип", "колоноскопия", "биопсия", "ендоскоп", "синус", "шев", "експозиция", "ръб", "нерв", "аневризма", "дренаж", "вентрикул", "хипофиза", "лигавица", "кървене", "лезия", "катетър"],
}
SYNTAX = ['"', "*", "OR", "NEAR(", "'; DROP TABLE lessons; --", "-", ":", "a AND", "(x)", "^"]


def generate(db: Database, lessons: int, seed: int = 7) -> tuple[int, list[int]]:
    """Write ``lessons`` lessons with chapters, notes and search documents; returns
    (documents, course ids)."""
    rng = random.Random(seed)
    now = datetime.now(UTC)
    with db.session() as session:
        courses = []
        for specialty in SPECIALTIES:
            course = Course(slug=specialty.lower()[:20] + secrets.token_hex(3), title=specialty,
                            specialty=specialty, description="")
            session.add(course)
            session.flush()
            courses.append(course.id)
    documents = 0
    batch = 500
    for first in range(0, lessons, batch):
        rows, links, chapter_rows, note_rows, docs, ranking = [], [], [], [], [], []
        with db.session() as session:
            base = session.execute(text("SELECT COALESCE(MAX(id), 0) FROM lessons")).scalar_one()
            for offset in range(min(batch, lessons - first)):
                n = first + offset
                lesson_id = base + offset + 1
                lang = LANGUAGES[n % len(LANGUAGES)]
                words = WORDS[lang]
                course_index = n % len(courses)
                when = now - timedelta(days=rng.randint(0, 1500))
                lesson = Lesson(
                    id=lesson_id, recording_id=f"bench-{n}-{secrets.token_hex(4)}",
                    room_id="demo", recording_folder=f"demo/bench-{n}",
                    status="published" if n % 10 else "draft",
                    title=" ".join(rng.sample(words, 3)).capitalize() + f" {n}",
                    specialty=SPECIALTIES[course_index], procedure=rng.choice(words),
                    language=lang, description=" ".join(rng.choices(words, k=25)) + ".",
                    tags=rng.sample(words, 3), instructors=[rng.choice(INSTRUCTORS)],
                    recording_duration=3600.0, hidden_segments=[], consent_confirmed=True,
                    deidentification_confirmed=True, duration=3500.0, published_start=5.0,
                    published_at=when, created_at=when, updated_at=when,
                )
                chapters = [LessonChapter(lesson_id=lesson_id, title=" ".join(
                    rng.sample(words, rng.randint(1, 3))).capitalize(), start=60.0 * c + 5,
                    position=c) for c in range(rng.randint(4, 10))]
                notes = [LessonNote(lesson_id=lesson_id, at=30.0 * k + 5, author="bench",
                                    text=" ".join(rng.choices(words, k=rng.randint(6, 20))))
                         for k in range(rng.randint(0, 5))]
                rows.append(_values(lesson))
                links.append({"lesson_id": lesson_id, "course_id": courses[course_index]})
                chapter_rows += [_values(c) for c in chapters]
                note_rows += [dict(_values(x), created_at=now) for x in notes]
                lesson_docs = documents_for(lesson, chapters, notes)
                docs += [_values(d) for d in lesson_docs]
                ranking.append(_values(lesson_row(lesson_id, lesson_docs)))
            session.execute(insert(Lesson), rows)
            session.execute(insert(LessonCourse), links)
            session.execute(insert(LessonChapter), chapter_rows)
            if note_rows:
                session.execute(insert(LessonNote), note_rows)
            session.execute(insert(SearchDocument), docs)
            session.execute(insert(SearchLesson), ranking)
            documents += len(docs)
    return documents, courses


def _values(obj: Any) -> dict[str, Any]:
    return {c.key: getattr(obj, c.key) for c in obj.__table__.columns
            if getattr(obj, c.key, None) is not None}


def queries(rng: random.Random, courses: list[int], count: int) -> list[tuple[str, Filters]]:
    """Varied queries: common and rare words, several words, prefixes, no diacritics,
    Cyrillic, filters, syntax characters, nothing found, and browsing without words."""
    out: list[tuple[str, Filters]] = []
    today = date.today()
    kinds = ["one", "two", "three", "prefix", "folded", "filtered", "syntax", "none", "browse",
             "instructor", "dated"]
    for i in range(count):
        lang = LANGUAGES[i % len(LANGUAGES)]
        words = WORDS[lang]
        kind = kinds[i % len(kinds)]
        if kind == "one":
            out.append((rng.choice(words), Filters()))
        elif kind == "two":
            out.append((" ".join(rng.sample(words, 2)), Filters()))
        elif kind == "three":
            out.append((" ".join(rng.sample(words, 3)), Filters()))
        elif kind == "prefix":
            out.append((rng.choice(words)[:3], Filters()))
        elif kind == "folded":  # typed without diacritics
            out.append((rng.choice(WORDS["ro"]).replace("ț", "t").replace("ă", "a"), Filters()))
        elif kind == "filtered":
            out.append((rng.choice(words), Filters(specialty=rng.choice(SPECIALTIES),
                                                   language=lang)))
        elif kind == "syntax":
            out.append((rng.choice(SYNTAX) + " " + rng.choice(words), Filters()))
        elif kind == "none":
            out.append((f"zzq{i}xw", Filters()))
        elif kind == "browse":
            out.append(("", Filters(course_id=rng.choice(courses))))
        elif kind == "instructor":
            out.append((rng.choice(words), Filters(instructor=rng.choice(INSTRUCTORS))))
        else:
            start = today - timedelta(days=rng.randint(100, 1400))
            out.append((rng.choice(words), Filters(date_from=start,
                                                   date_to=start + timedelta(days=180))))
    return out


def measure(db: Database, workload: list[tuple[str, Filters]], access: CourseAccess
            ) -> list[float]:
    for query, filters in workload:  # warm the caches as a running server has them
        search(db, query, access, filters)
    times = []
    for query, filters in workload:
        started = time.perf_counter()
        search(db, query, access, filters)
        times.append((time.perf_counter() - started) * 1000)
    return times


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(share * (len(ordered) - 1)))]


def run_backend(url: str, backend: str, lessons: int, count: int) -> dict[str, Any]:
    db = Database(url)
    try:
        db.migrate()
        started = time.perf_counter()
        documents, courses = generate(db, lessons)
        build_s = time.perf_counter() - started
        if not db.is_sqlite:
            with db.session() as session:
                session.execute(text("ANALYZE"))
        workload = queries(random.Random(11), courses, count)
        curator = CourseAccess(True, frozenset(), frozenset())
        student = CourseAccess(False, frozenset(), frozenset(courses[:2]))
        times = measure(db, workload, curator) + measure(db, workload, student)
    finally:
        db.dispose()
    result: dict[str, Any] = {
        "backend": backend, "lessons": lessons, "documents": documents,
        "queries": len(times), "build_s": round(build_s, 1),
        "p50_ms": round(statistics.median(times), 2), "p95_ms": round(percentile(times, 0.95), 2),
        "max_ms": round(max(times), 2), "target_p95_ms": TARGET_P95_MS,
    }
    result["meets_target"] = result["p95_ms"] <= TARGET_P95_MS
    print(f"{backend:10s} {lessons} lessons, {documents} documents (built in {build_s:.1f} s): "
          f"{len(times)} searches p50 {result['p50_ms']} ms, p95 {result['p95_ms']} ms, "
          f"max {result['max_ms']} ms (target p95 <= {TARGET_P95_MS:g} ms)", flush=True)
    return result


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--lessons", type=int, default=10_000)
    parser.add_argument("--queries", type=int, default=220, help="distinct queries (each run "
                        "as a curator and as a student)")
    parser.add_argument("--database-url", help="PostgreSQL server to also measure (a throwaway "
                        "database is created there); default MEDROOM_TEST_POSTGRES_URL")


def run_from_args(args: argparse.Namespace) -> int:
    results = []
    with tempfile.TemporaryDirectory() as folder:
        results.append(run_backend(f"sqlite:///{Path(folder) / 'bench.db'}", "sqlite",
                                   args.lessons, args.queries))
    pg_url = args.database_url or os.environ.get("MEDROOM_TEST_POSTGRES_URL")
    if pg_url:
        with throwaway_postgres_database(pg_url, "medroom_bench") as url:
            results.append(run_backend(url, "postgresql", args.lessons, args.queries))
    print(json.dumps({"bench": "search", "results": results}))
    return 0 if all(r["meets_target"] for r in results) else 1
