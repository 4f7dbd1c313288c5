"""GStreamer's webrtcbin as a WHIP publisher or a WHEP viewer, run by Debian's python3.

Debian bookworm's GStreamer 1.22 has webrtcbin but no whipsink/whepsrc, so this script does
the WHIP/WHEP exchange itself, as the many devices built on webrtcbin do: gather all
candidates, POST the offer with the bearer token, apply the answer, DELETE the session URL at
the end. It runs under /usr/bin/python3 (python3-gi), not the project's virtualenv, and
imports nothing of MedRoom. ICE is kept on the address in ``GST_PEER_ICE_ADDRESS`` (default
127.0.0.1 for the tests; empty: every interface, as webrtcbin does by itself).

    python3 gst_peer.py whip URL TOKEN   publish a test pattern until stdin closes (Ctrl-D)
    python3 gst_peer.py whep URL TOKEN N view until N frames are decoded (or 40 s pass)

It prints one JSON object per line on stdout ({"event": ...}); GStreamer's own messages go to
stderr.
"""

from __future__ import annotations

import ctypes
import json
import os
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import Any

import gi

gi.require_version("Gst", "1.0")
gi.require_version("GstSdp", "1.0")
gi.require_version("GstWebRTC", "1.0")
from gi.repository import GLib, Gst, GstSdp, GstWebRTC

PUBLISH = (
    "videotestsrc is-live=true pattern=ball ! video/x-raw,width=640,height=360,framerate=30/1 "
    "! videoconvert ! x264enc tune=zerolatency speed-preset=ultrafast key-int-max=30 "
    "bitrate=1500 ! video/x-h264,profile=constrained-baseline "
    "! rtph264pay config-interval=-1 aggregate-mode=zero-latency "
    "! application/x-rtp,media=video,encoding-name=H264,payload=96 "
    "! webrtcbin name=webrtc"
)
VIEW_CAPS = (
    "application/x-rtp,media=video,encoding-name=H264,payload=96,clock-rate=90000,"
    "packetization-mode=(string)1,profile-level-id=(string)42e01f"
)


def ice_agent(webrtc: Gst.Element) -> Any:
    """webrtcbin's ICE agent, with a reference of our own. In 1.22 the wrapper that PyGObject
    makes for the ``ice-agent`` property takes over webrtcbin's only reference: once it is
    collected the agent is freed, and webrtcbin crashes building its DTLS transport
    ("assertion 'GST_IS_WEBRTC_ICE_TRANSPORT (ice)' failed", then a segmentation fault)."""
    agent = webrtc.get_property("ice-agent")
    capsule_pointer = ctypes.pythonapi.PyCapsule_GetPointer
    capsule_pointer.restype, capsule_pointer.argtypes = ctypes.c_void_p, [ctypes.py_object,
                                                                          ctypes.c_char_p]
    gobject = ctypes.CDLL("libgobject-2.0.so.0")
    gobject.g_object_ref.argtypes, gobject.g_object_ref.restype = [ctypes.c_void_p], ctypes.c_void_p
    gobject.g_object_ref(capsule_pointer(agent.__gpointer__, None))
    return agent


STARTED = time.monotonic()


def say(event: str, **fields: Any) -> None:
    """One event on stdout, with the seconds since the peer started."""
    seconds = round(time.monotonic() - STARTED, 3)
    print(json.dumps({"event": event, "seconds": seconds, **fields}), flush=True)


class Peer:
    def __init__(self, mode: str, url: str, token: str, want_frames: int) -> None:
        self.mode, self.url, self.token, self.want = mode, url, token, want_frames
        self.loop = GLib.MainLoop()
        if mode == "whip":
            self.pipe = Gst.parse_launch(PUBLISH)
        else:  # decoders are added as the answer's tracks arrive
            self.pipe = Gst.Pipeline.new()
            self.pipe.add(Gst.ElementFactory.make("webrtcbin", "webrtc"))
        self.webrtc = self.pipe.get_by_name("webrtc")
        self.webrtc.set_property("bundle-policy", GstWebRTC.WebRTCBundlePolicy.MAX_BUNDLE)
        say("started", mode=mode)
        address = os.environ.get("GST_PEER_ICE_ADDRESS", "127.0.0.1")
        if address:
            ice_agent(self.webrtc).emit("add-local-ip-address", address)
        self.posted = False
        self.location: str | None = None
        self.frames = 0
        self.webrtc.connect("on-negotiation-needed", self.on_negotiation_needed)
        self.webrtc.connect("notify::ice-gathering-state", self.on_gathering)
        self.webrtc.connect("notify::connection-state", self.on_connection_state)
        self.webrtc.connect("pad-added", self.on_pad_added)
        bus = self.pipe.get_bus()
        bus.add_signal_watch()
        bus.connect("message::error", self.on_error)
        if mode == "whep":
            direction = GstWebRTC.WebRTCRTPTransceiverDirection.RECVONLY
            self.webrtc.emit("add-transceiver", direction, Gst.Caps.from_string(VIEW_CAPS))

    # -- negotiation: a complete offer (all candidates), then one POST -------------------
    def on_negotiation_needed(self, _element: Gst.Element) -> None:
        self.create_offer()

    def create_offer(self) -> bool:
        promise = Gst.Promise.new_with_change_func(self.on_offer_created, None)
        self.webrtc.emit("create-offer", None, promise)
        return False

    def on_offer_created(self, promise: Gst.Promise, _data: object) -> None:
        reply = promise.get_reply()
        offer = reply.get_value("offer") if reply is not None else None
        if offer is None:  # 1.22 may be asked before its sink pad has caps: ask again
            say("retry-offer", reply=reply and reply.to_string())
            GLib.timeout_add(100, self.create_offer)
            return
        self.webrtc.emit("set-local-description", offer, Gst.Promise.new())

    def on_gathering(self, element: Gst.Element, _spec: object) -> None:
        complete = GstWebRTC.WebRTCICEGatheringState.COMPLETE
        if element.get_property("ice-gathering-state") == complete and not self.posted:
            self.posted = True
            GLib.idle_add(self.post_offer)

    def post_offer(self) -> bool:
        offer = self.webrtc.get_property("local-description").sdp.as_text()
        say("offer", setup=[ln for ln in offer.split("\r\n") if ln.startswith("a=setup")][:1])
        request = urllib.request.Request(
            self.url, data=offer.encode(), method="POST",
            headers={"Content-Type": "application/sdp", "Authorization": f"Bearer {self.token}"},
        )
        try:
            with urllib.request.urlopen(request, timeout=20) as response:
                answer_text = response.read().decode()
                self.location = urllib.parse.urljoin(self.url, response.headers["Location"])
                say("answer", status=response.status, location=self.location)
        except urllib.error.HTTPError as exc:
            say("refused", status=exc.code, body=exc.read().decode(errors="replace"))
            self.loop.quit()
            return False
        _, sdp = GstSdp.SDPMessage.new_from_text(answer_text)
        answer = GstWebRTC.WebRTCSessionDescription.new(GstWebRTC.WebRTCSDPType.ANSWER, sdp)
        self.webrtc.emit("set-remote-description", answer, Gst.Promise.new())
        return False

    def on_connection_state(self, element: Gst.Element, _spec: object) -> None:
        state = element.get_property("connection-state")
        say("connection", state=state.value_nick)
        if state == GstWebRTC.WebRTCPeerConnectionState.CONNECTED:
            say("connected")
        if state == GstWebRTC.WebRTCPeerConnectionState.FAILED:
            self.loop.quit()

    # -- viewing: decode and count frames ---------------------------------------------
    def on_pad_added(self, _element: Gst.Element, pad: Gst.Pad) -> None:
        if pad.get_direction() != Gst.PadDirection.SRC:
            return
        decode = Gst.ElementFactory.make("decodebin")
        decode.connect("pad-added", self.on_decoded_pad)
        self.pipe.add(decode)
        decode.sync_state_with_parent()
        pad.link(decode.get_static_pad("sink"))

    def on_decoded_pad(self, _decode: Gst.Element, pad: Gst.Pad) -> None:
        if not pad.get_current_caps().to_string().startswith("video/x-raw"):
            return
        sink = Gst.ElementFactory.make("fakesink")
        sink.set_property("sync", False)
        self.pipe.add(sink)
        sink.sync_state_with_parent()
        pad.link(sink.get_static_pad("sink"))
        sink.get_static_pad("sink").add_probe(Gst.PadProbeType.BUFFER, self.on_frame)

    def on_frame(self, pad: Gst.Pad, _info: Gst.PadProbeInfo) -> Gst.PadProbeReturn:
        self.frames += 1
        if self.frames == 1:
            caps = pad.get_current_caps().get_structure(0)
            say("first-frame", width=caps.get_value("width"), height=caps.get_value("height"))
        if self.frames == self.want:
            GLib.idle_add(self.loop.quit)
        return Gst.PadProbeReturn.OK

    def on_error(self, _bus: Gst.Bus, message: Gst.Message) -> None:
        error, debug = message.parse_error()
        say("error", message=error.message, debug=debug)
        self.loop.quit()

    # -- the whole run ---------------------------------------------------------------------
    def run(self, timeout: float) -> int:
        self.pipe.set_state(Gst.State.PLAYING)
        if self.mode == "whip":  # publish until stdin closes
            threading.Thread(target=self.quit_on_eof, daemon=True).start()
        else:
            GLib.timeout_add(int(timeout * 1000), self.loop.quit)
        self.loop.run()
        self.pipe.set_state(Gst.State.NULL)
        status = self.delete()
        say("done", frames=self.frames, delete=status)
        return 0

    def quit_on_eof(self) -> None:
        sys.stdin.read()
        GLib.idle_add(self.loop.quit)

    def delete(self) -> int | None:
        if self.location is None:
            return None
        request = urllib.request.Request(
            self.location, method="DELETE", headers={"Authorization": f"Bearer {self.token}"})
        try:
            with urllib.request.urlopen(request, timeout=10) as response:
                return int(response.status)
        except urllib.error.HTTPError as exc:
            return exc.code


def main() -> int:
    Gst.init(None)
    mode, url, token = sys.argv[1:4]
    want = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    return Peer(mode, url, token, want).run(timeout=40)


if __name__ == "__main__":
    sys.exit(main())
