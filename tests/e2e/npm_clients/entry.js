// The npm clients as published, bundled for a plain page: window.WHEPClient, window.WHIPClient
// (whip-whep), window.WebRTCPlayer (@eyevinn/webrtc-player, its "whep" adapter) and
// window.EyevinnWHIPClient (@eyevinn/whip-web-client).
import { WHEPClient } from "whip-whep/whep.js";
import { WHIPClient } from "whip-whep/whip.js";
import { WebRTCPlayer } from "@eyevinn/webrtc-player";
import { WHIPClient as EyevinnWHIPClient } from "@eyevinn/whip-web-client";

window.WHEPClient = WHEPClient;
window.WHIPClient = WHIPClient;
window.WebRTCPlayer = WebRTCPlayer;
window.EyevinnWHIPClient = EyevinnWHIPClient;
