"""``medroom bench links --trace DIR``: what happened to every lost packet, for each freeze.

A freeze across a lossy link is the end of a chain: a packet dropped on the link, the viewer's
NACK (itself maybe dropped), the server's retransmission (paced, maybe refused, maybe dropped
again), or a keyframe request (PLI) and the keyframe that answers it. Each process of the bench
notes its part of the chain in memory, with ``time.monotonic()`` (one clock for every process
on the machine), and writes it as JSON lines into DIR when the run ends:

- ``link.jsonl`` (the shaped link): every packet dropped, with its RTP sequence number, or its
  RTCP type (a NACK's content is encrypted, its type is not);
- ``server.jsonl``: every RTP packet as it leaves (after pacing), NACKs and PLIs received, what
  the retransmission policy did with each NACKed packet, every encoded frame (keyframe or not);
- ``viewer.jsonl``: every RTP packet as it arrives (retransmissions unwrapped), NACKs and PLIs
  sent, every frame the jitter buffer hands to the decoder, every decoded frame.

``explain`` reads the three and, for each gap between decoded frames longer than a freeze,
tells the story of the frame that ended it.
"""

from __future__ import annotations

import itertools
import json
import os
import struct
import time
from collections.abc import Iterable
from pathlib import Path
from typing import Any

ENV = "MEDROOM_LINK_TRACE"

Event = dict[str, Any]
_EVENTS: list[Event] | None = None


def enabled() -> bool:
    return _EVENTS is not None


def note(kind: str, **fields: Any) -> None:
    if _EVENTS is not None:
        fields["t"] = time.monotonic()
        fields["k"] = kind
        _EVENTS.append(fields)


def start() -> bool:
    """Start noting events in this process if the run is traced (``ENV`` names the folder)."""
    global _EVENTS
    if os.environ.get(ENV):
        _EVENTS = []
    return _EVENTS is not None


def dump(name: str) -> None:
    folder = os.environ.get(ENV)
    if _EVENTS is None or not folder:
        return
    path = Path(folder) / f"{name}.jsonl"
    with path.open("w", encoding="utf-8") as f:
        for event in _EVENTS:
            f.write(json.dumps(event) + "\n")


def rtp_header(data: bytes) -> tuple[int, int, int, int, bool] | None:
    """(payload type, sequence number, timestamp, ssrc, marker) of an RTP packet (SRTP leaves
    the header in the clear), None for RTCP or anything too short."""
    if len(data) < 12 or data[0] >> 6 != 2:
        return None
    pt = data[1] & 0x7F
    if 64 <= pt <= 95:  # RTCP packet types 192..223 with the marker bit
        return None
    seq, ts, ssrc = struct.unpack("!HII", data[2:12])
    return pt, seq, ts, ssrc, bool(data[1] & 0x80)


def rtx_original_seq(data: bytes) -> int | None:
    """The original sequence number an RTX packet carries (first 2 bytes of its payload)."""
    header = 12 + 4 * (data[0] & 0x0F)
    if data[0] & 0x10:  # header extension
        if len(data) < header + 4:
            return None
        length = struct.unpack("!H", data[header + 2 : header + 4])[0]
        header += 4 + 4 * length
    if len(data) < header + 2:
        return None
    return int(struct.unpack("!H", data[header : header + 2])[0])


# -- the processes' hooks ------------------------------------------------------------------------


def install_server() -> None:
    """Note, in the bench's server process, what the streaming path does with each packet."""
    from aiortc.rtcdtlstransport import RTCDtlsTransport
    from aiortc.rtcrtpsender import RTCRtpSender
    from aiortc.rtp import (
        RTCP_PSFB_FIR,
        RTCP_PSFB_PLI,
        RTCP_RTPFB_NACK,
        RtcpPsfbPacket,
        RtcpRtpfbPacket,
    )

    from streaming import retransmit
    from streaming.encoder import PacketFanOut

    send_rtp = RTCDtlsTransport._send_rtp

    async def traced_send(self: RTCDtlsTransport, data: bytes) -> None:
        header = rtp_header(data)
        await send_rtp(self, data)
        if header is not None:
            pt, seq, ts, ssrc, marker = header
            # "x": the payload's first two bytes, an RTX packet's original sequence number.
            note("sent", pt=pt, seq=seq, ts=ts, ssrc=ssrc, m=marker, size=len(data),
                 x=rtx_original_seq(data))

    RTCDtlsTransport._send_rtp = traced_send  # type: ignore[method-assign]

    handle = RTCRtpSender._handle_rtcp_packet

    async def traced_rtcp(self: RTCRtpSender, packet: Any) -> None:
        if isinstance(packet, RtcpRtpfbPacket) and packet.fmt == RTCP_RTPFB_NACK:
            note("nack_in", lost=list(packet.lost))
        elif isinstance(packet, RtcpPsfbPacket) and packet.fmt in (RTCP_PSFB_PLI, RTCP_PSFB_FIR):
            note("pli_in")
        await handle(self, packet)

    RTCRtpSender._handle_rtcp_packet = traced_rtcp  # type: ignore[method-assign]

    policy = retransmit.RetransmitPolicy
    decide = policy._retransmit

    async def traced_retransmit(self: retransmit.RetransmitPolicy, sequence_number: int) -> None:
        before = (self.retransmitted, self.refused, self.keyframes_asked)
        asked = time.monotonic()
        await decide(self, sequence_number)
        after = (self.retransmitted, self.refused, self.keyframes_asked)
        outcome = ("resent" if after[0] > before[0] else "refused" if after[1] > before[1]
                   else "?")
        note("rtx_decision", seq=sequence_number, outcome=outcome, asked=asked,
             keyframe=after[2] > before[2])

    policy._retransmit = traced_retransmit  # type: ignore[method-assign]

    from streaming.playout import PlayoutDelayMap

    set_delay = PlayoutDelayMap.set_delay

    def traced_set_delay(self: PlayoutDelayMap, delay_ms: float) -> None:
        if delay_ms != self.delay_ms:
            note("playout", ms=delay_ms)
        set_delay(self, delay_ms)

    PlayoutDelayMap.set_delay = traced_set_delay  # type: ignore[method-assign]

    deliver = PacketFanOut._deliver

    def traced_deliver(self: PacketFanOut, packet: Any) -> None:
        note("encoded", enc=self.name, pts=packet.pts, size=packet.size,
             key=bool(packet.is_keyframe))
        deliver(self, packet)

    PacketFanOut._deliver = traced_deliver  # type: ignore[method-assign]


def install_viewer() -> None:
    """Note, in the probe (after ``install_receiver``), each packet, NACK, PLI and frame."""
    import aiortc.rtcrtpreceiver as receiver_module
    from aiortc.rtcrtpreceiver import RTCRtpReceiver

    from streaming.latency import _has_idr

    handle = RTCRtpReceiver._handle_rtp_packet

    async def traced_rtp(self: RTCRtpReceiver, packet: Any, arrival_time_ms: int) -> None:
        fields: Event = {"pt": packet.payload_type, "seq": packet.sequence_number,
                         "ts": packet.timestamp, "ssrc": packet.ssrc, "m": bool(packet.marker)}
        if len(packet.payload) >= 2 and _is_rtx(self, packet):
            fields["osn"] = int(struct.unpack("!H", packet.payload[:2])[0])
        note("arrived", **fields)
        await handle(self, packet, arrival_time_ms)

    def _is_rtx(receiver: RTCRtpReceiver, packet: Any) -> bool:
        codecs = receiver._RTCRtpReceiver__codecs  # type: ignore[attr-defined]
        codec = codecs.get(packet.payload_type)
        return codec is not None and codec.name.lower() == "rtx"

    RTCRtpReceiver._handle_rtp_packet = traced_rtp  # type: ignore[method-assign]

    nack = RTCRtpReceiver._send_rtcp_nack

    async def traced_nack(self: RTCRtpReceiver, media_ssrc: int, lost: list[int]) -> None:
        note("nack_out", lost=list(lost))
        await nack(self, media_ssrc, lost)

    RTCRtpReceiver._send_rtcp_nack = traced_nack  # type: ignore[method-assign]

    pli = RTCRtpReceiver._send_rtcp_pli

    async def traced_pli(self: RTCRtpReceiver, media_ssrc: int) -> None:
        note("pli_out")
        await pli(self, media_ssrc)

    RTCRtpReceiver._send_rtcp_pli = traced_pli  # type: ignore[method-assign]

    buffer_class = receiver_module.JitterBuffer  # type: ignore[attr-defined]
    remove = buffer_class._remove_frame

    def traced_remove(self: Any, sequence_number: int) -> Any:
        frame = remove(self, sequence_number)
        if frame is not None and self._is_video:
            note("frame_out", ts=frame.timestamp, size=len(frame.data), idr=_has_idr(frame.data))
        return frame

    buffer_class._remove_frame = traced_remove  # type: ignore[method-assign]


def dump_decoded(timeline: Iterable[tuple[float, float | None]]) -> None:
    """The viewer's decoded frames, (monotonic time, glass-to-glass ms), as ``decoded.jsonl``."""
    folder = os.environ.get(ENV)
    if not folder:
        return
    with (Path(folder) / "decoded.jsonl").open("w", encoding="utf-8") as f:
        for at, latency in timeline:
            f.write(json.dumps({"t": at, "k": "decoded", "lat": latency}) + "\n")


def describe_ip(packet: bytes) -> Event:
    """What a link saw in an IPv4/UDP packet: an RTP packet's header fields, an RTCP packet's
    type, or neither (STUN, DTLS, TCP)."""
    if len(packet) < 20 or packet[0] >> 4 != 4 or packet[9] != 17:
        return {}
    payload = packet[(packet[0] & 0x0F) * 4 + 8 :]
    header = rtp_header(payload)
    if header is not None:
        pt, seq, ts, ssrc, _ = header
        return {"pt": pt, "seq": seq, "ts": ts, "ssrc": ssrc, "x": rtx_original_seq(payload)}
    if len(payload) >= 2 and payload[0] >> 6 == 2:
        return {"rtcp": payload[1]}
    return {}


# -- reading a trace ---------------------------------------------------------------------------


def load(folder: str | Path, name: str) -> list[Event]:
    path = Path(folder) / f"{name}.jsonl"
    if not path.exists():
        return []
    with path.open(encoding="utf-8") as f:
        return [json.loads(line) for line in f]


def _fmt_ms(t: float, origin: float) -> str:
    return f"{(t - origin) * 1000:8.1f}"


def explain(folder: str | Path, freeze_ms: float = 200.0, out: Any = None) -> list[Event]:
    """For each gap between decoded frames over ``freeze_ms``: the lost packets of the frames
    that were held, and what happened to each (NACK, retransmission, PLI, keyframe). Returns
    one summary per freeze; prints the story to ``out`` when given."""
    link, server, viewer = (load(folder, n) for n in ("link", "server", "viewer"))
    decodes = load(folder, "decoded")
    frames_out = [e for e in viewer if e["k"] == "frame_out"]
    arrived = [e for e in viewer if e["k"] == "arrived"]
    sent = [e for e in server if e["k"] == "sent"]
    media_ssrc = _media_ssrc(arrived)
    first_sent: dict[int, Event] = {}
    resent: dict[int, list[Event]] = {}
    for e in sent:
        if e["ssrc"] == media_ssrc:
            first_sent.setdefault(e["seq"], e)
        elif e.get("x") is not None:
            resent.setdefault(e["x"], []).append(e)
    arrivals: dict[int, list[Event]] = {}
    for e in arrived:
        seq = e.get("osn", e["seq"] if e["ssrc"] == media_ssrc else None)
        if seq is not None:
            arrivals.setdefault(seq, []).append(e)
    nacks_out = [e for e in viewer if e["k"] == "nack_out"]
    nacks_in = [e for e in server if e["k"] == "nack_in"]
    decisions = [e for e in server if e["k"] == "rtx_decision"]
    plis_out = [e for e in viewer if e["k"] == "pli_out"]
    encoded = [e for e in server if e["k"] == "encoded"]
    dropped_rtcp = [e for e in link if e["k"] == "drop" and e.get("rtcp")]
    summaries: list[Event] = []
    for before, after in itertools.pairwise(decodes):
        gap = (after["t"] - before["t"]) * 1000
        if gap <= freeze_ms:
            continue
        a, b = before["t"], after["t"]
        # The frames handed to the decoder at the end of the gap and the RTP packets they were
        # waiting for: sequence numbers that arrived late (after the gap started).
        held = [e for e in frames_out if a < e["t"] <= b + 0.001]
        ts_set = {e["ts"] for e in held}
        seqs = sorted({s for s, evs in arrivals.items()
                       if any(ev["ts"] in ts_set for ev in evs)})
        late = [s for s in seqs if s in first_sent
                and min(ev["t"] for ev in arrivals[s]) - first_sent[s]["t"] > 0.150]
        story: list[str] = []
        causes: list[str] = []
        for s in late:
            sent_at = first_sent[s]["t"]
            first_arrival = min(ev["t"] for ev in arrivals[s])
            asked = [n["t"] for n in nacks_out if s in n["lost"] and n["t"] >= sent_at]
            heard = [n["t"] for n in nacks_in if s in n["lost"] and n["t"] >= sent_at]
            rtx = [e["t"] for e in resent.get(s, []) if e["t"] >= sent_at]
            refused = [d for d in decisions if d["seq"] == s and d["outcome"] != "resent"]
            story.append(
                f"  seq {s}: sent {_fmt_ms(sent_at, a)}; NACKed at "
                f"{[round((t - a) * 1000) for t in asked]}; NACK at server "
                f"{[round((t - a) * 1000) for t in heard]}; resent "
                f"{[round((t - a) * 1000) for t in rtx]}; refused {len(refused)}; arrived "
                f"{_fmt_ms(first_arrival, a)} (ms from the last frame before the gap)"
            )
            if len(asked) > len(heard):
                causes.append("nack_lost")
            if len(rtx) > 1 or (rtx and len(heard) > 1):
                causes.append("rtx_lost")
            if asked and asked[0] - sent_at > 0.080:
                causes.append("late_detection")
            if rtx and heard and rtx[0] - heard[0] > 0.020:
                causes.append("rtx_delayed")
            if refused:
                causes.append("rtx_refused")
        # The server's encoder stood still (a busy machine): no frame to send at all.
        made = [e["t"] for e in encoded if a - 0.3 < e["t"] <= b]
        stall = max((y - x for x, y in itertools.pairwise(made)), default=0.0)
        if stall > 0.15:
            causes.append("encoder_stall")
        # The link emulator itself fell behind.
        lag = max((e["ms"] for e in link if e["k"] == "late" and a - 0.3 < e["t"] <= b),
                  default=0.0)
        if lag > 30:
            causes.append("emulator_late")
        plis = [p["t"] for p in plis_out if a - 0.5 < p["t"] <= b]
        keys = [e["t"] for e in encoded if e["key"] and a - 0.5 < e["t"] <= b]
        # The one cause a freeze is counted under: the machine (the server's encoder or the
        # emulator stood still), else a repair (a lost packet whose copy arrived inside the
        # gap), else the viewer itself (its decoding or event loop was late).
        repaired = [s for s, evs in arrivals.items()
                    if any("osn" in ev and a < ev["t"] <= b + 0.005 for ev in evs)]
        if stall > 0.12 or lag > 30:
            primary = "machine"
        elif repaired:
            primary = "repair"
        else:
            primary = "viewer"
        if plis:
            causes.append("pli")
        if not late:
            causes.append("no_late_packet")
        nack_drops = [e["t"] for e in dropped_rtcp if a - 0.3 < e["t"] <= b]
        summary: Event = {
            "at": round(a, 3), "gap_ms": round(gap), "frames_held": len(held),
            "late_packets": late, "causes": sorted(set(causes)),
            "plis": [round((t - a) * 1000) for t in plis],
            "keyframes": [round((t - a) * 1000) for t in keys],
            "rtcp_dropped": [round((t - a) * 1000) for t in nack_drops],
            "encoder_stall_ms": round(stall * 1000), "emulator_late_ms": lag,
            "primary": primary, "repaired": sorted(repaired),
        }
        summaries.append(summary)
        if out is not None:
            print(f"freeze {summary['gap_ms']} ms at {a:.3f} [{primary}]: {len(held)} frames held, causes "
                  f"{summary['causes']}, PLIs {summary['plis']}, keyframes "
                  f"{summary['keyframes']}, RTCP dropped {summary['rtcp_dropped']}, encoder "
                  f"stall {summary['encoder_stall_ms']} ms, emulator late "
                  f"{summary['emulator_late_ms']} ms", file=out)
            for line in story:
                print(line, file=out)
    return summaries


def repairs(folder: str | Path) -> list[Event]:
    """Every media packet the link dropped towards the viewer and how it was repaired: ms from
    the drop to the viewer's first NACK for it, to the server hearing a NACK, to the first
    retransmission leaving, to a copy arriving; NACK rounds; whether it was a keyframe's."""
    link, server, viewer = (load(folder, n) for n in ("link", "server", "viewer"))
    arrived = [e for e in viewer if e["k"] == "arrived"]
    media_ssrc = _media_ssrc(arrived)
    keyframe_ts = {e["ts"] for e in viewer if e["k"] == "frame_out" and e.get("idr")}
    frame_out = {e["ts"]: e["t"] for e in viewer if e["k"] == "frame_out"}
    nacks_out = [e for e in viewer if e["k"] == "nack_out"]
    nacks_in = [e for e in server if e["k"] == "nack_in"]
    rtx_sent: dict[int, list[float]] = {}
    for e in server:
        if e["k"] == "sent" and e["ssrc"] != media_ssrc and e.get("x") is not None:
            rtx_sent.setdefault(e["x"], []).append(e["t"])
    rtx_arrived: dict[int, list[float]] = {}
    for e in arrived:
        if "osn" in e:
            rtx_arrived.setdefault(e["osn"], []).append(e["t"])
    rows: list[Event] = []
    for d in link:
        if d["k"] != "drop" or d.get("way") != "down" or d.get("ssrc") != media_ssrc:
            continue
        if d.get("why") != "loss":
            continue
        t, seq = d["t"], d["seq"]

        def after(times: Iterable[float], t: float = t) -> list[float]:
            return [x for x in times if t <= x < t + 2.0]

        asked = after(n["t"] for n in nacks_out if seq in n["lost"])
        heard = after(n["t"] for n in nacks_in if seq in n["lost"])
        resent = after(rtx_sent.get(seq, []))
        came = after(rtx_arrived.get(seq, []))

        def ms(x: list[float], t: float = t) -> float | None:
            return round((x[0] - t) * 1000, 1) if x else None

        rows.append({
            "t": round(t, 3), "seq": seq, "key": d.get("ts") in keyframe_ts,
            "nack_ms": ms(asked), "heard_ms": ms(heard), "resent_ms": ms(resent),
            "arrived_ms": ms(came), "nacks": len(asked), "heard": len(heard),
            "resends": len(resent), "copies": len(came),
            "frame_out_ms": (round((frame_out[d["ts"]] - t) * 1000, 1)
                             if d.get("ts") in frame_out else None),
        })
    return rows


def _media_ssrc(arrived: Iterable[Event]) -> int | None:
    counts: dict[int, int] = {}
    for e in arrived:
        if "osn" not in e:
            counts[e["ssrc"]] = counts.get(e["ssrc"], 0) + 1
    return max(counts, key=lambda s: counts[s]) if counts else None


def main() -> None:
    import sys

    explain(sys.argv[1], out=sys.stdout)
    rows = repairs(sys.argv[1])
    print(f"{len(rows)} media packets lost on the way to the viewer")
    for r in rows:
        print("  " + " ".join(f"{k}={v}" for k, v in r.items()))


if __name__ == "__main__":
    main()
