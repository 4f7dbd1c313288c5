"""Every number a request carries is bounded at the edge, and out-of-range numbers are refused
with 404 (a path naming nothing) or 422 (a query), never a 500 from the database driver.

Issue 16 item 6: ``/api/library/lessons/9223372036854775808`` and ``offset=99999999999999999999``
reached SQLite's 64-bit INTEGER and came back as 500 on about twenty endpoints.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Annotated, Any

import httpx
import pytest
from fastapi import params
from fastapi.dependencies.utils import get_flat_params
from fastapi.routing import APIRoute, iter_route_contexts
from pydantic import TypeAdapter

from config.settings import Settings
from tests.conftest import Server
from web.app import create_app

INT64 = (-(2**63), 2**63 - 1)
TOO_BIG = "9223372036854775808"  # 2**63: one past SQLite's and PostgreSQL's largest integer
HUGE = "99999999999999999999"
SUPERSCRIPT = "\u00b2"  # '²': str.isdigit() says yes, int() says no


def _integer_schemas(schema: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The integer branches of a parameter schema (``int | None`` is an anyOf)."""
    if schema.get("type") == "integer":
        yield schema
    for branch in schema.get("anyOf", []) + schema.get("oneOf", []):
        yield from _integer_schemas(branch)


def unbounded_parameters(routes: list[Any]) -> list[str]:
    """'METHOD /path name' for each integer path or query parameter lacking a minimum or a
    maximum within signed 64 bits, over every route: pages hidden from the docs too, which is
    why this reads each route's parameters rather than ``app.openapi()``."""
    problems = []
    for route in iter_route_contexts(routes):
        if not isinstance(route.original_route, APIRoute):
            continue
        for parameter in get_flat_params(route.dependant):
            info = parameter.field_info
            if not isinstance(info, params.Path | params.Query):
                continue
            typed: Any = Annotated[info.annotation, info]  # a type built at run time
            schema = TypeAdapter(typed).json_schema()
            for integer in _integer_schemas(schema):
                low, high = integer.get("minimum"), integer.get("maximum")
                if low is None or high is None or low < INT64[0] or high > INT64[1]:
                    method = ",".join(sorted(route.methods or ()))
                    problems.append(f"{method} {route.path} {parameter.alias}")
    return problems


def test_every_integer_parameter_is_bounded_within_64_bits(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path, demo=False), [])
    assert unbounded_parameters(app.routes) == [], (
        "declare these with web.deps.IdPath / IdQuery / Offset (or Query/Path with ge and le)")


def test_the_walk_notices_a_route_that_forgets() -> None:
    """The check above is not vacuous: a plain ``int`` path or query parameter is caught."""
    from fastapi import FastAPI

    app = FastAPI()

    @app.get("/things/{thing_id}", include_in_schema=False)
    async def thing(thing_id: int, offset: int = 0) -> None: ...

    assert unbounded_parameters(app.routes) == ["GET /things/{thing_id} thing_id",
                                                "GET /things/{thing_id} offset"]


# -- the literal requests, against a real server ----------------------------------------------

PATH_IDS = [
    "/api/library/lessons/{n}",
    "/api/library/lessons/{n}/attachments",
    "/api/library/lessons/{n}/job",
    "/api/library/jobs/{n}",
    "/api/library/courses/{n}/members",
    "/api/lessons/{n}/playback",
    "/api/lessons/{n}/views",
    "/api/cme/programmes/{n}",
    "/api/cme/programmes/{n}/test",
    "/api/cme/programmes/{n}/certificates",
    "/api/cme/programmes/{n}/questions",
    "/api/cme/programmes/{n}/audit-report",
    "/library/lessons/{n}",
    "/library/lessons/{n}/edit",
    "/cme/programmes/{n}",
]
STUDENT_ROUTES = ["/api/library/lessons/{n}", "/api/lessons/{n}/playback", "/api/lessons/{n}/views",
                  "/library/lessons/{n}"]
QUERIES = [
    "/api/search?offset={n}",
    "/api/search?course={n}",
    "/api/library/lessons?course_id={n}",
    "/api/cme/audit?programme_id={n}",
    "/library/search?page={n}",
]


@pytest.fixture(scope="module")
def callers(server: Server) -> dict[str, httpx.Client]:
    return {role: httpx.Client(base_url=server.url, timeout=30, follow_redirects=False,
                               headers={"Authorization": f"Bearer {server.token(role)}"})
            for role in ("student", "instructor")}


@pytest.mark.parametrize("role", ["student", "instructor"])
def test_out_of_range_ids_in_paths_are_404(callers: dict[str, httpx.Client], role: str) -> None:
    answers = {}
    for template in PATH_IDS:
        for n in (TOO_BIG, HUGE, SUPERSCRIPT, "-1", "0"):
            url = template.format(n=n)
            answers[url] = callers[role].get(url).status_code
    # A student is refused the staff routes by role (403) before the id is read.
    allowed = {404} if role == "instructor" else {403, 404}
    assert {url: code for url, code in answers.items() if code not in allowed} == {}
    for template in STUDENT_ROUTES:
        assert [answers[template.format(n=n)] for n in (TOO_BIG, HUGE, SUPERSCRIPT)] == [404] * 3


@pytest.mark.parametrize("role", ["student", "instructor"])
def test_out_of_range_numbers_in_queries_are_422(callers: dict[str, httpx.Client],
                                                 role: str) -> None:
    answers = {}
    for template in QUERIES:
        for n in (TOO_BIG, HUGE, SUPERSCRIPT, "-1"):
            url = template.format(n=n)
            answers[url] = callers[role].get(url).status_code
    wrong = {url: code for url, code in answers.items() if code not in (403, 422)}
    assert wrong == {}


def test_a_bounded_id_still_answers(callers: dict[str, httpx.Client]) -> None:
    """The largest id is a lawful question with the answer 'no such lesson'."""
    answer = callers["instructor"].get(f"/api/library/lessons/{2**63 - 1}")
    assert answer.status_code == 404 and "lesson" in answer.json()["detail"]
    answer = callers["student"].get(f"/api/library/lessons/{TOO_BIG}")
    assert answer.status_code == 404
    assert "less than or equal to 9223372036854775807" in answer.json()["detail"]
