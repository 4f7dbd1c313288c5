"""The PACS clients against a real Orthanc (Debian's, on loopback, its own storage): search,
retrieve with progress, the worklist in three scripts, retention, and what goes wrong."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from pydicom import Dataset
from pydicom.encaps import encapsulate
from pydicom.uid import RLELossless

from config.settings import PacsServer
from room_controller.pacs import (
    PacsCache,
    PacsError,
    PacsPeer,
    PacsUnreachable,
    Protocol,
    QueryError,
    Retrieval,
    RetrievalState,
    StudyQuery,
    WorklistQuery,
    run_retrieval,
)
from room_controller.pacs.dicomweb import name_matches, qido_name
from tests.pacs_peer import (
    ORTHANC_AET,
    PASSWORD,
    USER,
    OrthancPeer,
    Study,
    ct_series,
    free_port,
    require_orthanc,
    worklist_item,
)

BOTH = (Protocol.DICOMWEB, Protocol.DIMSE)


class Seeded:
    def __init__(self, orthanc: OrthancPeer) -> None:
        self.orthanc = orthanc
        self.head, head = ct_series(patient_name="Popescu^Ion", patient_id="P0001",
                                    accession="ACC0001", slices=24, study_date=date(2026, 11, 30))
        self.romanian, ro = ct_series(patient_name="Ștefănescu^Țiți", patient_id="P0002",
                                      accession="ACC0002", slices=6, modality="MR",
                                      description="Brain MR", study_date=date(2026, 12, 1))
        self.cyrillic, ru = ct_series(patient_name="Иванов^Иван", patient_id="P0003",
                                      accession="ACC0003", slices=5, study_date=date(2026, 12, 2))
        self.rle, rle = ct_series(patient_name="Compressed^Rle", patient_id="P0004",
                                  accession="ACC0004", slices=4, transfer_syntax=RLELossless)
        self.jpegxl, jxl = undecodable_series()
        orthanc.upload([*head, *ro, *ru, *rle, *jxl])

    def server(self, **changes: object) -> PacsServer:
        fields: dict[str, object] = {
            "id": "orthanc", "label": "Test PACS", "dicomweb_url": self.orthanc.dicomweb_url,
            "aet": ORTHANC_AET, "host": "127.0.0.1", "port": self.orthanc.dicom_port,
            "username": USER, "password": PASSWORD, "timeout_seconds": 10}
        fields.update(changes)
        return PacsServer.model_validate(fields)


def undecodable_series() -> tuple[Study, list[Dataset]]:
    """A series in JPEG XL (PS3.5 2024), which no pydicom plugin decodes."""
    study, datasets = ct_series(patient_name="Future^Codec", patient_id="P0005",
                                accession="ACC0005", slices=2)
    for ds in datasets:
        ds.file_meta.TransferSyntaxUID = "1.2.840.10008.1.2.4.110"
        ds.PixelData = encapsulate([b"\xff\x0a" + b"\x00" * 64])
        ds["PixelData"].VR = "OB"
    return study, datasets


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    require_orthanc()
    orthanc = OrthancPeer(tmp_path_factory.mktemp("orthanc")).start()
    try:
        yield Seeded(orthanc)
    finally:
        orthanc.stop()


# -- search ------------------------------------------------------------------------------------


@pytest.mark.parametrize("protocol", BOTH)
def test_search_by_each_field_finds_studies_with_series_and_slice_counts(
    seeded: Seeded, protocol: Protocol
) -> None:
    client = PacsPeer(seeded.server()).via(protocol)
    by_name = client.search(StudyQuery(patient_name="popescu"))
    assert [s.study_uid for s in by_name] == [seeded.head.study_uid]
    study = by_name[0]
    assert (study.patient_id, study.accession, study.study_date) == ("P0001", "ACC0001", "20261130")
    assert study.description == "Head CT"
    assert client.search(StudyQuery(patient_id="P0002"))[0].patient_name == "Ștefănescu^Țiți"
    assert client.search(StudyQuery(accession="ACC0003"))[0].study_uid == seeded.cyrillic.study_uid
    december = client.search(StudyQuery(date_from=date(2026, 12, 1), date_to=date(2026, 12, 2)))
    assert {s.study_uid for s in december} == {seeded.romanian.study_uid, seeded.cyrillic.study_uid}
    mr = client.search(StudyQuery(date_from=date(2026, 11, 1), modality="MR"))
    assert [s.study_uid for s in mr] == [seeded.romanian.study_uid]
    series = client.series(study.study_uid)
    assert [(s.series_uid, s.description, s.instances) for s in series] == [
        (seeded.head.series_uid, "Head CT axial", 24)]


@pytest.mark.parametrize("protocol", BOTH)
def test_romanian_names_are_found_with_and_without_their_diacritics_typed(
    seeded: Seeded, protocol: Protocol
) -> None:
    client = PacsPeer(seeded.server()).via(protocol)
    found = client.search(StudyQuery(patient_name="Ștefănescu^Ț"))
    assert [s.patient_name for s in found] == ["Ștefănescu^Țiți"]


def test_cyrillic_name_search_over_c_find(seeded: Seeded) -> None:
    """Over DICOMweb, Orthanc's plugin (1.7) does not decode percent-encoded query values, so a
    name typed only in Cyrillic matches nothing there; C-FIND in UTF-8 finds it."""
    client = PacsPeer(seeded.server()).via(Protocol.DIMSE)
    assert [s.patient_name for s in client.search(StudyQuery(patient_name="Иванов"))] == [
        "Иванов^Иван"]


def test_qido_names_are_sent_in_a_form_every_pacs_reads() -> None:
    assert qido_name("Popescu^Ion") == "Popescu*Ion"
    assert qido_name("Ștefănescu^Ț") == "*tef*nescu*"
    assert qido_name("Иванов") == "Иванов"  # nothing ASCII left: sent as typed
    assert name_matches("ștefănescu^ț*", "Ștefănescu^Țiți")
    assert name_matches("stefanescu*", "Ștefănescu^Țiți")  # accents ignored, as PACS do
    assert not name_matches("popescu*", "Ștefănescu^Țiți")


def test_a_search_must_narrow_and_fields_are_bounded() -> None:
    with pytest.raises(QueryError, match="does not list a whole PACS"):
        StudyQuery(modality="CT")
    with pytest.raises(QueryError, match="backslash"):
        StudyQuery(patient_name="a\\b")
    with pytest.raises(QueryError, match="longer than 64"):
        StudyQuery(patient_id="x" * 65)
    with pytest.raises(QueryError, match="ends before it starts"):
        StudyQuery(date_from=date(2026, 2, 1), date_to=date(2026, 1, 1))
    with pytest.raises(QueryError, match="not a DICOM modality"):
        StudyQuery(patient_id="1", modality="C T")


# -- answers or not ----------------------------------------------------------------------------


def test_check_says_which_protocol_answers_and_why_not(seeded: Seeded) -> None:
    assert PacsPeer(seeded.server()).check().answers
    closed = free_port()
    status = PacsPeer(seeded.server(dicomweb_url=f"http://127.0.0.1:{closed}/dicom-web",
                                    port=closed, timeout_seconds=2)).check()
    assert not status.answers
    web, dimse = status.protocols
    assert "cannot connect" in web.error and f"127.0.0.1:{closed}" in web.error
    assert "no association" in dimse.error
    wrong = PacsPeer(seeded.server(password="wrong", aet="NOTORTHANC")).check()
    assert "refused MedRoom's login (401" in wrong.protocols[0].error
    assert "rejected the association" in wrong.protocols[1].error


# -- retrieve ----------------------------------------------------------------------------------


def _job(seeded: Seeded, study: Study, protocol: Protocol) -> Retrieval:
    return Retrieval(id=f"t{time.monotonic_ns()}", room_id="demo", pacs_id="orthanc",
                     protocol=protocol, study_uid=study.study_uid, series_uid=study.series_uid,
                     description="", source_id=None)


@pytest.mark.parametrize("protocol", BOTH)
def test_retrieve_a_series_into_the_cache_with_progress(
    seeded: Seeded, protocol: Protocol, tmp_path: Path
) -> None:
    cache = PacsCache(tmp_path, retention_seconds=3600)
    seen: list[tuple[int, int | None]] = []
    job = _job(seeded, seeded.head, protocol)
    original = job.progress
    job.progress = lambda received, total: (seen.append((received, total)),  # type: ignore[method-assign]
                                            original(received, total))[1]
    series = run_retrieval(job, PacsPeer(seeded.server()), cache, 5000, room_live=False)
    assert job.state is RetrievalState.DONE and (job.received, job.total) == (24, 24)
    assert [r for r, _ in seen] == list(range(1, 25)) and seen[-1] == (24, 24)
    assert series.count == 24 and series.series_uid == seeded.head.series_uid
    positions = series.positions
    assert positions == tuple(sorted(p for p in positions if p is not None))
    assert job.folder is not None and job.folder.parent == tmp_path / "pacs" / "demo"
    assert not list(job.folder.parent.glob(".*.part"))


@pytest.mark.parametrize("protocol", BOTH)
def test_a_compressed_series_we_can_decode_is_shown(
    seeded: Seeded, protocol: Protocol, tmp_path: Path
) -> None:
    series = run_retrieval(_job(seeded, seeded.rle, protocol), PacsPeer(seeded.server()),
                           PacsCache(tmp_path, 60), 5000, room_live=False)
    assert series.count == 4
    assert int(series.hu(0).max()) == 1040 - 1024  # the disc, decoded from RLE


def test_a_series_in_a_syntax_nobody_decodes_is_refused_with_the_reason(
    seeded: Seeded, tmp_path: Path
) -> None:
    job = _job(seeded, seeded.jpegxl, Protocol.DICOMWEB)
    with pytest.raises(PacsError, match=r"cannot be shown: .*1\.2\.840\.10008\.1\.2\.4\.110.*"
                                        r"cannot be decoded by pydicom at all"):
        run_retrieval(job, PacsPeer(seeded.server()), PacsCache(tmp_path, 60), 5000, False)
    assert job.state is RetrievalState.FAILED and "cannot be decoded" in job.error
    assert not any((tmp_path / "pacs" / "demo").iterdir())


def test_a_series_over_the_limit_is_refused_before_it_is_fetched(
    seeded: Seeded, tmp_path: Path
) -> None:
    job = _job(seeded, seeded.head, Protocol.DIMSE)
    with pytest.raises(PacsError, match="24 instances, more than 10 "
                                        r"\(MEDROOM_PACS_MAX_SERIES_SLICES\)"):
        run_retrieval(job, PacsPeer(seeded.server()), PacsCache(tmp_path, 60), 10, False)
    assert job.received == 0


def test_a_cancelled_retrieval_leaves_nothing(seeded: Seeded, tmp_path: Path) -> None:
    job = _job(seeded, seeded.head, Protocol.DICOMWEB)
    job.cancel.set()
    with pytest.raises(PacsError, match="cancelled"):
        run_retrieval(job, PacsPeer(seeded.server()), PacsCache(tmp_path, 60), 5000, False)
    assert job.state is RetrievalState.CANCELLED
    assert not any((tmp_path / "pacs" / "demo").iterdir())


# -- retention ---------------------------------------------------------------------------------


def test_retrieved_images_leave_the_room_after_the_session_plus_retention(
    seeded: Seeded, tmp_path: Path
) -> None:
    cache = PacsCache(tmp_path, retention_seconds=600)
    peer = PacsPeer(seeded.server())
    run_retrieval(_job(seeded, seeded.rle, Protocol.DICOMWEB), peer, cache, 5000, room_live=True)
    [folder] = cache.folders("demo")
    now = time.time()
    assert cache.sweep(now + 10**6) == []  # live: kept however long
    cache.release("demo", now=now)  # the session ended
    assert cache.sweep(now + 599) == []
    assert cache.sweep(now + 601) == [folder]
    assert not folder.exists() and cache.folders("demo") == []


def test_a_series_kept_when_the_server_stopped_while_live_is_due_after_restart(
    seeded: Seeded, tmp_path: Path
) -> None:
    cache = PacsCache(tmp_path, retention_seconds=5)
    run_retrieval(_job(seeded, seeded.rle, Protocol.DIMSE), PacsPeer(seeded.server()), cache,
                  5000, room_live=True)
    (tmp_path / "pacs" / "demo" / ".x.part").mkdir()
    restarted = PacsCache(tmp_path, retention_seconds=5)
    restarted.remove_stale_parts()
    restarted.settle_after_restart()
    assert not (tmp_path / "pacs" / "demo" / ".x.part").exists()
    assert len(restarted.sweep(time.time() + 1)) == 0
    assert len(restarted.sweep(time.time() + 6)) == 1


# -- worklist ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("name", "charset", "typed"), [
    ("Ștefănescu^Țiți", "ISO_IR 192", "Ștef"),
    ("Ştefănescu^Ţiţi", "ISO_IR 192", "Ştef"),  # cedilla forms, still common in Romanian data
    ("Иванова^Мария", "ISO_IR 144", "Иван"),  # Cyrillic in ISO 8859-5
    ("Müller^Jürgen", "ISO_IR 100", "Müll"),  # Latin-1
])
def test_worklist_items_keep_non_ascii_names_in_their_character_set(
    seeded: Seeded, name: str, charset: str, typed: str
) -> None:
    accession = f"WL{abs(hash(name)) % 10**8:08d}"
    seeded.orthanc.add_worklist(
        worklist_item(patient_name=name, patient_id="W" + accession[-4:], accession=accession,
                      charset=charset, when=date(2026, 12, 5)), accession)
    client = PacsPeer(seeded.server()).worklist_client()
    found = client.worklist(WorklistQuery(day=date(2026, 12, 5), patient_name=typed))
    mine = [item for item in found if item.accession == accession]
    assert len(mine) == 1, found
    item = mine[0]
    assert item.patient_name == name
    assert (item.procedure, item.modality, item.start) == ("Colonoscopy", "ES", "20261205 090000")
    assert item.study_uid and item.step_id.startswith("SPS")
    other_day = client.worklist(WorklistQuery(day=date(2026, 12, 6), patient_name=typed))
    assert all(i.accession != accession for i in other_day)


def test_worklist_needs_a_dimse_address(seeded: Seeded) -> None:
    peer = PacsPeer(seeded.server(aet=None, host=None, port=None))
    with pytest.raises(PacsError, match="modality worklist is asked with C-FIND"):
        peer.worklist_client()


def test_a_pacs_that_drops_the_association_mid_transfer_says_so(
    seeded: Seeded, tmp_path: Path
) -> None:
    """A C-GET peer (pynetdicom's SCP, speaking the real protocol) that aborts after 3 of 8
    instances: the retrieval fails naming the count, and nothing stays in the cache."""
    from tests.room_controller.dropping_pacs import dropping_get_scp

    _, datasets = ct_series(slices=8)
    with dropping_get_scp(datasets, drop_after=3) as port:
        server = PacsServer(id="flaky", aet="FLAKY", host="127.0.0.1", port=port,
                            timeout_seconds=5)
        job = Retrieval(id="drop", room_id="demo", pacs_id="flaky", protocol=Protocol.DIMSE,
                        study_uid=str(datasets[0].StudyInstanceUID),
                        series_uid=str(datasets[0].SeriesInstanceUID), description="",
                        source_id=None, total=8)
        with pytest.raises(PacsError, match=r"dropped the association after 3 of 8"):
            run_retrieval(job, PacsPeer(server), PacsCache(tmp_path, 60), 5000, False)
    assert not any((tmp_path / "pacs" / "demo").iterdir())


def test_a_pacs_that_does_not_answer_in_time_is_reported(tmp_path: Path) -> None:
    """A listening socket that never speaks: each protocol gives up after its timeout."""
    import socket

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        port = silent.getsockname()[1]
        server = PacsServer(id="slow", dicomweb_url=f"http://127.0.0.1:{port}/dicom-web",
                            aet="SLOW", host="127.0.0.1", port=port, timeout_seconds=0.5)
        start = time.monotonic()
        status = PacsPeer(server).check()
        assert time.monotonic() - start < 5
    assert not status.answers
    assert "no answer within 0.5 s" in status.protocols[0].error
    assert "no association" in status.protocols[1].error
    with pytest.raises(PacsUnreachable):
        PacsPeer(server).via(Protocol.DICOMWEB).echo()


def test_a_study_of_2000_slices_is_retrieved_whole_and_in_order(
    seeded: Seeded, tmp_path: Path
) -> None:
    """Tiny slices keep it quick; the count, the order and the progress are what is tested.
    Over C-GET only: the same code path over WADO-RS is tested above with fewer slices, and
    2,000 instances cost the suite's time twice (``medroom bench pacs`` times both)."""
    protocol = Protocol.DIMSE
    big, datasets = ct_series(patient_name="Big^Study", patient_id="P2000", accession="ACC2000",
                              slices=2000, size=8)
    assert seeded.orthanc.upload_zip(datasets) == 2000
    [series] = PacsPeer(seeded.server()).via(protocol).series(big.study_uid)
    assert series.instances == 2000
    job = _job(seeded, big, protocol)
    loaded = run_retrieval(job, PacsPeer(seeded.server()), PacsCache(tmp_path, 60), 5000, False)
    assert (job.received, job.total, loaded.count) == (2000, 2000, 2000)
    positions = [p for p in loaded.positions if p is not None]
    assert len(positions) == 2000 and positions == sorted(positions)
    assert positions[-1] - positions[0] == pytest.approx(1999 * 2.5)


@pytest.mark.parametrize("cleanly", [True, False])
def test_a_dicomweb_pacs_that_stops_mid_series_is_not_taken_for_a_whole_one(
    cleanly: bool, tmp_path: Path
) -> None:
    from tests.room_controller.dropping_dicomweb import dropping_wado

    _, datasets = ct_series(slices=8)
    with dropping_wado(datasets, send=3, close_cleanly=cleanly) as url:
        server = PacsServer(id="flaky", dicomweb_url=url, timeout_seconds=5)
        job = Retrieval(id="web", room_id="demo", pacs_id="flaky", protocol=Protocol.DICOMWEB,
                        study_uid=str(datasets[0].StudyInstanceUID),
                        series_uid=str(datasets[0].SeriesInstanceUID), description="",
                        source_id=None, total=8)
        # Cut mid-part, the half instance may still be parsed (pydicom is lenient): 3 or 4.
        with pytest.raises(PacsError, match=r"(sent [34] of the 8 instances|after [34] of 8)"):
            run_retrieval(job, PacsPeer(server), PacsCache(tmp_path, 60), 5000, False)
    assert job.state is RetrievalState.FAILED and job.received in (3, 4)
    assert not any((tmp_path / "pacs" / "demo").iterdir())
