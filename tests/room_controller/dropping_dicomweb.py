"""A WADO-RS peer that stops mid-answer: a plain HTTP server (real sockets, the real multipart
framing) that sends ``send`` instances of the series and then closes the connection."""

from __future__ import annotations

import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from io import BytesIO

from pydicom import Dataset

BOUNDARY = "medroom-test-boundary"


@contextmanager
def dropping_wado(datasets: Sequence[Dataset], send: int, *, close_cleanly: bool) -> Iterator[str]:
    """Yields the DICOMweb root URL on 127.0.0.1. ``close_cleanly``: end the multipart answer
    properly after ``send`` parts (a PACS that quietly sends too few); otherwise drop the
    connection in the middle of the next part."""
    parts = []
    for ds in datasets:
        buffer = BytesIO()
        ds.save_as(buffer, enforce_file_format=True)
        parts.append(buffer.getvalue())

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: object) -> None:
            pass

        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Type", 'multipart/related; type="application/dicom"; '
                             f"boundary={BOUNDARY}")
            self.send_header("Connection", "close")
            self.end_headers()
            for data in parts[:send]:
                self.wfile.write(f"--{BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n"
                                 .encode() + data + b"\r\n")
            if close_cleanly:
                self.wfile.write(f"--{BOUNDARY}--\r\n".encode())
            else:
                self.wfile.write(f"--{BOUNDARY}\r\nContent-Type: application/dicom\r\n\r\n"
                                 .encode() + parts[send][: len(parts[send]) // 2])
            self.wfile.flush()
            self.close_connection = True

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/dicom-web"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)
