"""A C-GET peer that drops the association mid-transfer: pynetdicom's own SCP, speaking the
real protocol, sending ``drop_after`` instances of the series and then aborting."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager

from pydicom import Dataset
from pynetdicom import AE, StoragePresentationContexts, evt
from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelGet  # type: ignore[attr-defined]


@contextmanager
def dropping_get_scp(datasets: Sequence[Dataset], drop_after: int) -> Iterator[int]:
    """Yields the port of an SCP with AE title FLAKY on 127.0.0.1."""

    def on_get(event: evt.Event) -> Iterator[int | tuple[int, Dataset | None]]:
        yield len(datasets)
        for index, ds in enumerate(datasets):
            if index == drop_after:
                event.assoc.abort()
                return
            yield 0xFF00, ds

    ae = AE(ae_title="FLAKY")
    ae.add_supported_context(StudyRootQueryRetrieveInformationModelGet)
    for context in StoragePresentationContexts:
        ae.add_supported_context(context.abstract_syntax, scu_role=False, scp_role=True)
    server = ae.start_server(("127.0.0.1", 0), block=False,
                             evt_handlers=[(evt.EVT_C_GET, on_get)])
    try:
        yield int(server.server_address[1])
    finally:
        server.shutdown()
