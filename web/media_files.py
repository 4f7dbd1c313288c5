"""Media files served to browsers: Starlette's file response with byte ranges, shared by the
published lessons' files and the curation editor's."""

from __future__ import annotations

from starlette.responses import FileResponse, MalformedRangeHeader, RangeNotSatisfiable


class MediaFileResponse(FileResponse):
    """Starlette's file response (ranges, If-Range, ETag) with 416 for malformed ranges too.

    RFC 9110 lets a server answer a range set it rejects as invalid with 416; a clear "not
    satisfiable" beats Starlette's 400, and a player treats both as "ask again without Range".
    """

    @classmethod
    def _parse_range_header(cls, http_range: str, file_size: int) -> list[tuple[int, int]]:
        try:
            return super()._parse_range_header(http_range, file_size)
        except MalformedRangeHeader:
            raise RangeNotSatisfiable(file_size) from None
