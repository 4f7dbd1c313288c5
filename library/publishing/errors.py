"""Errors of the publishing pipeline: each message names the file or step and what to do."""

from __future__ import annotations


class PublishError(Exception):
    """A recording cannot be published as asked; nothing was published.

    Raised for a recording still in progress, a missing or unreadable track, a trim window
    that selects nothing, an output folder that already holds a lesson. The job layer shows
    ``str()`` to the curator as is, so it says what went wrong and what to change.
    """


class MediaError(PublishError):
    """A media file could not be read, remuxed or verified."""


class ChapterError(PublishError, ValueError):
    """A chapter edit refers to an unknown marker or gives an impossible title or time."""
