"""Search across scripts and spellings, on SQLite and PostgreSQL: Serbian Latin finds Serbian
Cyrillic and the reverse, Bulgarian Cyrillic and its Latin spelling find each other, Romanian
with or without diacritics (comma below or cedilla), and an index folded the old way is found
after migration 0016."""

from __future__ import annotations

import unicodedata

import pytest
from alembic import command
from alembic.config import Config
from alembic.script import ScriptDirectory
from sqlalchemy import text

from library.courses import create_course
from library.db import MIGRATIONS_DIR, Database
from library.search.query import search
from library.search.text import fold, fold_for_index, query_terms, snippet
from tests.library.test_search import EVERYTHING, lesson, titles

SR_CYRILLIC = "Хирургија хипофизе"
SR_LATIN = "Endoskopska hirurgija sinusa"
SR_DJ = "Prikaz slučaja: dr Djordje Nikolić"
BG = "Ендоскопия на синусите"
RO_COMMA = "Ședință de chirurgie endoscopică"
RO_CEDILLA = "Disecţia ţesutului la bază"  # cedilla forms, as older keyboards type them


@pytest.fixture
def lessons(db: Database) -> dict[str, int]:
    course = create_course(db, slug="mixed", title="Mixed", specialty="ENT").id
    return {
        "sr-cyr": lesson(db, 1, SR_CYRILLIC, course, language="sr",
                         chapters=[("Љубљански приступ", 30.0), ("Џеп и шав дуре", 90.0)],
                         notes=("Ђорђе затвара шав на дури.",),
                         description="Транссфеноидална хирургија, приказ случаја."),
        "sr-lat": lesson(db, 2, SR_LATIN, course, language="sr",
                         chapters=[("Pristup kroz nos", 20.0)],
                         notes=("Asistira dr Đorđe Petrović iz Ljubljane.",)),
        "sr-dj": lesson(db, 3, SR_DJ, course, language="sr", chapters=[("Uvod", 5.0)]),
        "bg": lesson(db, 4, BG, course, language="bg",
                     chapters=[("Хрущял на преградата", 40.0), ("Шев на лигавицата", 80.0)],
                     description="Функционална ендоскопска хирургия."),
        "ro-comma": lesson(db, 5, RO_COMMA, course, language="ro",
                           chapters=[("Închiderea plăgii", 50.0)]),
        "ro-cedilla": lesson(db, 6, RO_CEDILLA, course, language="ro",
                             chapters=[("Hemostază", 25.0)]),
    }


def found(db: Database, query: str) -> set[str]:
    return set(titles(search(db, query, EVERYTHING)))


def marked(db: Database, query: str, title: str) -> list[str]:
    """The words marked in the snippet of the result ``title``."""
    hit = next(h for h in search(db, query, EVERYTHING).hits if h.title == title)
    assert hit.match is not None
    return [f.text for f in hit.match.snippet if f.hit]


@pytest.mark.usefixtures("lessons")
def test_serbian_latin_and_cyrillic_find_each_other(db: Database) -> None:
    both = {SR_CYRILLIC, SR_LATIN}
    assert found(db, "hirurgija") == both
    assert found(db, "хирургија") == both
    assert found(db, "ХИРУРГИЈА ") == both  # typed to its end, capitals
    assert found(db, "hirurgija hipofize") == {SR_CYRILLIC}
    # Digraphs: љ is lj, њ is nj, џ is dž, whichever script the query is in.
    assert found(db, "ljubljanski") == {SR_CYRILLIC}
    assert found(db, "Љубљане") == {SR_LATIN}
    assert found(db, "džep") == found(db, "dzep") == found(db, "џеп") == {SR_CYRILLIC}
    assert found(db, "šav") == found(db, "sav") == {SR_CYRILLIC}
    # The last word is a prefix while typing, across scripts too.
    assert found(db, "транссфено") == {SR_CYRILLIC}
    assert found(db, "transsfeno") == {SR_CYRILLIC}


@pytest.mark.usefixtures("lessons")
def test_dj_finds_every_spelling_of_the_name(db: Database) -> None:
    # 'Ђорђе' (note of the Cyrillic lesson), 'Đorđe' (Latin lesson), 'Djordje' (typed without
    # diacritics, the Serbian way) are one name, whichever of them is searched.
    everyone = {SR_CYRILLIC, SR_LATIN, SR_DJ}
    for query in ("Ђорђе", "Đorđe", "Djordje", "djordje", "ĐORĐE", "DJORDJE"):
        assert found(db, query) == everyone, query
    # Stripping the stroke ('Dorde') finds đ and ђ; it cannot know that a written 'dj' is đ.
    assert found(db, "Dorde") == {SR_CYRILLIC, SR_LATIN}
    assert found(db, "Đorđe Petrović") == found(db, "djordje petrovic") == {SR_LATIN}


@pytest.mark.usefixtures("lessons")
def test_bulgarian_cyrillic_and_its_latin_spelling(db: Database) -> None:
    assert found(db, "ендоскопия") == {BG}
    assert found(db, "endoskopiya") == {BG}  # the streamlined system: я is ya,
    assert found(db, "endoskopia") == {BG}  # but a word's last 'ия' is 'ia'
    assert found(db, "hirurgia") == {BG}
    assert found(db, "ЕНДОСКОПИЯ синусите") == found(db, "endoskopiya sinusite") == {BG}
    assert found(db, "hrushtyal") == found(db, "хрущял") == {BG}  # щ is sht
    assert found(db, "хирургия") == found(db, "hirurgiya") == {BG}
    # ш is sh in Bulgarian Latin and š beside Serbian: both find it, and the Cyrillic word
    # finds both spellings' lessons.
    assert found(db, "shev") == found(db, "шев") == {BG}
    assert found(db, "shev lig") == {BG}
    assert found(db, "ligavitsata") == found(db, "ligavicata") == {BG}  # ц is ts, or c


@pytest.mark.usefixtures("lessons")
def test_romanian_with_or_without_diacritics_and_cedilla(db: Database) -> None:
    for query in ("Ședință", "sedinta", "ŞEDINŢĂ", "şedinţă", "s\u0326edint\u0326a\u0306"):
        assert found(db, query) == {RO_COMMA}, query
    for query in ("Disecția țesutului", "disectia tesutului", "Disecţia ţesutului"):
        assert found(db, query) == {RO_CEDILLA}, query
    assert found(db, "inchiderea plagii") == {RO_COMMA}
    assert found(db, "hemostaza") == {RO_CEDILLA}


@pytest.mark.usefixtures("lessons")
def test_snippets_mark_the_words_as_written(db: Database) -> None:
    # A Latin query marks the Cyrillic original in the note that holds both words.
    hit = next(h for h in search(db, "djordje sav", EVERYTHING).hits)
    assert hit.title == SR_CYRILLIC and hit.match is not None and hit.match.kind == "note"
    assert [(f.text, f.hit) for f in hit.match.snippet] == [
        ("Ђорђе", True), (" затвара ", False), ("шав", True), (" на дури.", False)]
    assert marked(db, "Dorde", SR_LATIN) == ["Đorđe"]
    assert marked(db, "ljubljan", SR_CYRILLIC) == ["Љубљански"]
    assert marked(db, "Љубљане", SR_LATIN) == ["Ljubljane"]
    assert marked(db, "ligavitsata", BG) == ["лигавицата"]
    assert marked(db, "tesutului", RO_CEDILLA) == ["ţesutului"]


def test_fold_and_query_forms() -> None:
    assert fold("ȘEDINȚĂ Şedinţă Ђурђевац й") == "sedinta sedinta djurdjevac y"
    assert fold("Љубљана Њива Џеп Ћуприја Жена Чачак Шабац") == (
        "ljubljana njiva dzep cuprija zena cacak sabac")
    assert fold("щъьюяй") == "shtayyuyay"
    # Decomposed input folds like composed: 'и' + breve is й.
    assert fold(unicodedata.normalize("NFD", "Ђорђе й ș")) == "djordje y s"
    # The index holds each word's other forms after the text; the query ORs them.
    assert fold_for_index("Ђорђе у Нишу") == "djordje u nisu dorde nishu"
    assert fold_for_index("Hirurgija") == "hirurgija"
    assert fold_for_index("София, България, биопсията") == (
        "sofiya, balgariya, biopsiyata sofia balgaria")
    terms = query_terms("Ђорђе шав")
    assert terms.words == ("djordje", "sav")
    assert terms.forms == (("djordje", "dorde"), ("sav", "shav"))
    # While typing, no form of the last word is a one-letter prefix.
    assert query_terms("Đ").forms == (("dj",),) and query_terms("Đ").prefix
    # The snippet never splits a decomposed word: the whole word is marked.
    decomposed = "Operat\u0326ie s\u0326edint\u0326a\u0306"
    assert [f.text for f in snippet(decomposed, query_terms("sedinta ")) if f.hit] == [
        "s\u0326edint\u0326a\u0306"]


def _alembic(db: Database, action: str, revision: str) -> None:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    with db.engine.connect() as connection:
        config.attributes["connection"] = connection
        getattr(command, action)(config, revision)


def _before_0016() -> str:
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR))
    config.set_main_option("path_separator", "os")
    revision = ScriptDirectory.from_config(config).get_revision("0016")
    assert revision is not None and isinstance(revision.down_revision, str)
    return revision.down_revision


def _old_fold(text_: str) -> str:
    """What search stored before 0016: lower case, no diacritics, Cyrillic left Cyrillic."""
    decomposed = unicodedata.normalize("NFKD", text_)
    kept = "".join(c for c in decomposed if not unicodedata.combining(c))
    return unicodedata.normalize("NFC", kept).casefold()


def test_migration_0016_refolds_an_old_index(db: Database, lessons: dict[str, int]) -> None:
    # The index as the code before 0016 left it (downgrading folds it back the old way).
    _alembic(db, "downgrade", _before_0016())
    with db.session() as session:
        stored = session.execute(text(
            "SELECT title, folded_title FROM search_documents WHERE lesson_id = :id AND "
            "kind = 'lesson'"), {"id": lessons["sr-cyr"]}).one()
        old_row = session.execute(text("SELECT folded_title FROM search_lessons WHERE "
                                       "lesson_id = :id"), {"id": lessons["bg"]}).scalar_one()
    assert stored.folded_title == _old_fold(SR_CYRILLIC) == "хирургија хипофизе"
    assert old_row.startswith("ендоскопия на синусите")
    # Today's queries fold to Latin: an index left the old way misses every Cyrillic lesson.
    assert found(db, "хирургија") == {SR_LATIN}
    assert found(db, "ендоскопия") == set()

    _alembic(db, "upgrade", "head")
    assert found(db, "хирургија") == found(db, "hirurgija") == {SR_CYRILLIC, SR_LATIN}
    assert found(db, "ендоскопия") == found(db, "endoskopiya") == {BG}
    assert found(db, "Dorde") == {SR_CYRILLIC, SR_LATIN}
    assert found(db, "şedinţă") == {RO_COMMA}
    with db.session() as session:
        folded = session.execute(text("SELECT folded_title FROM search_documents WHERE "
                                      "lesson_id = :id AND kind = 'lesson'"),
                                 {"id": lessons["sr-cyr"]}).scalar_one()
        assert folded == fold_for_index(SR_CYRILLIC) == "hirurgija hipofize"
        if db.is_sqlite:  # the FTS5 indexes agree with their content tables
            session.execute(text("INSERT INTO lesson_fts(lesson_fts) VALUES('integrity-check')"))
            session.execute(text("INSERT INTO search_fts(search_fts) VALUES('integrity-check')"))
