"""Which compressed transfer syntaxes this machine can decode, and what to install when not.

pydicom decodes through plugins from other packages. MedRoom depends on python-gdcm (BSD),
which decodes JPEG baseline/extended/lossless, JPEG-LS and JPEG 2000; RLE is decoded by pydicom
itself. pylibjpeg with pylibjpeg-openjpeg (MIT) is used too when present (it also reads
HTJ2K). pylibjpeg-libjpeg is deliberately not a dependency: it is GPL-3.0, MedRoom is not.
"""

from __future__ import annotations

from pathlib import Path

from pydicom.pixels.decoders.base import get_decoder
from pydicom.uid import UID

#: What a person installs for each family of compressed syntaxes (first choice first).
_INSTALL_HINTS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("1.2.840.10008.1.2.4.50", "1.2.840.10008.1.2.4.51", "1.2.840.10008.1.2.4.57",
      "1.2.840.10008.1.2.4.70"),
     "python-gdcm (pip install python-gdcm), or pylibjpeg with pylibjpeg-libjpeg"),
    (("1.2.840.10008.1.2.4.80", "1.2.840.10008.1.2.4.81"),
     "python-gdcm (pip install python-gdcm), or pyjpegls"),
    (("1.2.840.10008.1.2.4.90", "1.2.840.10008.1.2.4.91"),
     "python-gdcm (pip install python-gdcm), or pylibjpeg with pylibjpeg-openjpeg"),
    (("1.2.840.10008.1.2.4.201", "1.2.840.10008.1.2.4.202", "1.2.840.10008.1.2.4.203"),
     "pylibjpeg with pylibjpeg-openjpeg (pip install pylibjpeg pylibjpeg-openjpeg)"),
    (("1.2.840.10008.1.2.5",),
     "nothing extra normally (pydicom decodes RLE); pylibjpeg-rle is faster"),
)


class MissingDecoderError(Exception):
    """A file's pixel data is compressed in a syntax no installed package decodes."""


def install_hint(syntax: UID) -> str:
    for uids, hint in _INSTALL_HINTS:
        if str(syntax) in uids:
            return hint
    return "python-gdcm (pip install python-gdcm)"


def check_decodable(syntax: UID, path: Path) -> None:
    """Raise MissingDecoderError naming the file, the syntax and the package to install."""
    if not syntax.is_compressed:
        return
    try:
        decoder = get_decoder(syntax)
    except NotImplementedError:
        raise MissingDecoderError(
            f"{path.name}: pixel data in {syntax.name} ({syntax}) cannot be decoded by "
            "pydicom at all: export the series uncompressed or in JPEG/JPEG 2000/RLE"
        ) from None
    if not decoder.is_available:
        raise MissingDecoderError(
            f"{path.name}: pixel data in {syntax.name} ({syntax}) needs a decoder that is not "
            f"installed: install {install_hint(syntax)}, then restart MedRoom"
        )
