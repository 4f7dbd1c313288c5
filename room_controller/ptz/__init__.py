"""Pan-tilt-zoom camera heads: the VISCA-over-IP client and the room's PTZ controller."""

from .controller import PtzController, PtzDevice, PtzHealth, UnknownCameraError
from .visca import (
    ViscaBufferFull,
    ViscaCamera,
    ViscaCancelled,
    ViscaError,
    ViscaNoSocket,
    ViscaNotExecutable,
    ViscaNotStarted,
    ViscaProtocolError,
    ViscaReplyError,
    ViscaSequenceError,
    ViscaSyntaxError,
    ViscaTimeout,
)

__all__ = [
    "PtzController",
    "PtzDevice",
    "PtzHealth",
    "UnknownCameraError",
    "ViscaBufferFull",
    "ViscaCamera",
    "ViscaCancelled",
    "ViscaError",
    "ViscaNoSocket",
    "ViscaNotExecutable",
    "ViscaNotStarted",
    "ViscaProtocolError",
    "ViscaReplyError",
    "ViscaSequenceError",
    "ViscaSyntaxError",
    "ViscaTimeout",
]
