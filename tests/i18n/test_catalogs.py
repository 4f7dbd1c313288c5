"""The catalogs cover the product: every marked message has its translation in ro, sr-Cyrl,
sr-Latn and bg (extraction runs here, over the source as it is), Serbian Latin is derived from
Cyrillic, Romanian uses comma-below ș ț, and no page or script shows words it never asked to
have translated."""

from __future__ import annotations

from pathlib import Path

import pytest

from library.i18n.tool import problems
from tests.i18n.untranslated import SCRIPTS, TEMPLATES, script_text, template_text


def test_every_marked_message_is_translated_in_every_language() -> None:
    found = problems()
    assert not found, f"{len(found)} catalog problem(s):\n" + "\n".join(found[:60])


@pytest.mark.parametrize("template", sorted(p.name for p in TEMPLATES.glob("*.html")))
def test_a_template_marks_every_text_it_shows(template: str) -> None:
    unmarked = template_text(TEMPLATES / template)
    assert not unmarked, f"{template} shows text not marked for translation: {unmarked[:20]}"


@pytest.mark.parametrize("script", sorted(p.name for p in SCRIPTS.glob("*.js")))
def test_a_script_marks_every_sentence_it_shows(script: str) -> None:
    unmarked = script_text(Path(SCRIPTS / script))
    assert not unmarked, f"{script} shows text not marked for translation: {unmarked[:20]}"
