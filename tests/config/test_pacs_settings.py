"""MEDROOM_PACS: a clear error for each way a PACS can be described wrong."""

from __future__ import annotations

import json

import pytest
from pydantic import ValidationError

from config.settings import Settings


def settings(monkeypatch: pytest.MonkeyPatch, value: object) -> Settings:
    monkeypatch.setenv("MEDROOM_PACS", value if isinstance(value, str) else json.dumps(value))
    return Settings()


def test_a_pacs_over_dicomweb_and_dimse(monkeypatch: pytest.MonkeyPatch) -> None:
    [pacs] = settings(monkeypatch, [{"id": "hospital", "dicomweb_url": "https://p.example/dw",
                                     "aet": "PACS", "host": "p.example", "port": 104,
                                     "rooms": ["or-3"]}]).pacs
    assert pacs.speaks_dicomweb and pacs.speaks_dimse and pacs.calling_aet == "MEDROOM"
    assert pacs.serves("or-3") and not pacs.serves("demo")


@pytest.mark.parametrize(("value", "message"), [
    ("[{", "MEDROOM_PACS is not valid JSON"),
    ([{"id": "x"}], "give dicomweb_url, or aet, host and port"),
    ([{"id": "x", "aet": "PACS", "host": "h"}], "DIMSE needs all of aet, host and port"),
    ([{"id": "x", "dicomweb_url": "http://h/dw", "username": "u"}], "both username and password"),
    ([{"id": "x", "dicomweb_url": "ftp://h"}], "dicomweb_url"),
    ([{"id": "x", "aet": "A\\\\B", "host": "h", "port": 104}], "aet"),
    ([{"id": "x", "aet": "WAY_TOO_LONG_AE_TITLE", "host": "h", "port": 104}], "aet"),
    ([{"id": "Bad Id", "dicomweb_url": "http://h/dw"}], "id"),
    ([{"id": "x", "dicomweb_url": "http://h/dw"}, {"id": "x", "dicomweb_url": "http://g/dw"}],
     "x given twice"),
])
def test_bad_pacs_settings_say_what_is_wrong(
    monkeypatch: pytest.MonkeyPatch, value: object, message: str
) -> None:
    with pytest.raises(ValidationError, match=message):
        settings(monkeypatch, value)


def test_no_pacs_by_default(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("MEDROOM_PACS", raising=False)
    assert Settings().pacs == []
