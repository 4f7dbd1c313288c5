"""The one exception of the CME engine: input that cannot describe a real programme."""

from __future__ import annotations


class ProgrammeError(ValueError):
    """A programme, agenda item or attendance record is malformed.

    Raised when the data itself is impossible (an item ending before it starts, two items at
    the same time in one room, negative seconds), as opposed to a programme that is well formed
    but breaks the procedure, which the checker reports as findings. The message names the item
    and says what to change.
    """
