"""DICOM uploads at the edge: the multipart body counted as it arrives, and errors as HTTP.

FastAPI's ``File()`` parameters and ``request.form()`` read the whole body before a route runs,
so a 10 GiB upload would be on disk before anything could refuse it. Every DICOM upload (a room
source's series, a lesson's attachment) is read here instead: a declared Content-Length over
``upload_max_bytes`` is refused before reading, and the stream itself is counted, so a chunked
body is cut off at the limit too; the parser's spooled files are closed (deleted) on the way out.
"""

from __future__ import annotations

from collections.abc import AsyncGenerator, AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import HTTPException, Request, status
from starlette.datastructures import UploadFile
from starlette.formparsers import MultiPartException, MultiPartParser

from library.i18n import lazy
from room_controller.dicom.upload import UploadedFile, UploadError, UploadLimits, UploadTooLarge


def upload_error(exc: UploadError) -> HTTPException:
    """413 for a limit (the message names it and its setting), 422 for what was sent."""
    code = (status.HTTP_413_CONTENT_TOO_LARGE if isinstance(exc, UploadTooLarge)
            else status.HTTP_422_UNPROCESSABLE_CONTENT)
    return HTTPException(code, exc.args[0] if exc.args else str(exc))


def upload_body(description: str) -> dict[str, Any]:
    """The OpenAPI request body of a route reading its files through ``uploaded_files``."""
    return {"requestBody": {"required": True, "content": {"multipart/form-data": {"schema": {
        "type": "object", "required": ["files"],
        "properties": {"files": {"type": "array", "items": {"type": "string", "format": "binary"},
                                 "description": description}},
    }}}}}


@asynccontextmanager
async def uploaded_files(request: Request, limits: UploadLimits) -> AsyncIterator[
        list[UploadedFile]]:
    """The multipart field ``files`` of the request, read within ``limits.max_upload_bytes``."""
    declared = request.headers.get("content-length", "")
    if declared.isascii() and declared.isdigit() and int(declared) > limits.max_upload_bytes:
        raise upload_error(limits.request_too_large())

    async def counted() -> AsyncGenerator[bytes, None]:
        seen = 0
        async for chunk in request.stream():
            seen += len(chunk)
            if seen > limits.max_upload_bytes:
                raise limits.request_too_large()
            yield chunk

    if "multipart/form-data" not in request.headers.get("content-type", ""):
        raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, lazy(
            "no files: send them as multipart/form-data, in the form field 'files'", "no_files"))
    parser = MultiPartParser(request.headers, counted(), max_files=limits.max_files,
                             max_fields=10)
    try:
        form = await parser.parse()
    except UploadTooLarge as exc:
        raise upload_error(exc) from None
    except MultiPartException as exc:
        if exc.message.startswith("Too many files"):
            raise upload_error(UploadTooLarge(lazy(
                "more than %(count)s files in one upload (MEDROOM_UPLOAD_MAX_FILES): upload one "
                "series at a time", "too_many_files", count=limits.max_files))) from None
        raise HTTPException(status.HTTP_400_BAD_REQUEST, lazy(
            "%(problem)s (send the files as multipart/form-data, in the form field 'files')",
            "bad_multipart", problem=exc.message)) from None
    try:
        parts = [f for f in form.getlist("files") if isinstance(f, UploadFile)]
        if not parts:
            raise HTTPException(status.HTTP_422_UNPROCESSABLE_CONTENT, lazy(
                "no files: send them in the multipart form field 'files'", "no_files"))
        yield [UploadedFile(p.filename or "file", p.file) for p in parts]
    finally:
        await form.close()
