// The npm clients as published, bundled for a plain page: window.WHEPClient, window.WHIPClient.
import { WHEPClient } from "whip-whep/whep.js";
import { WHIPClient } from "whip-whep/whip.js";

window.WHEPClient = WHEPClient;
window.WHIPClient = WHIPClient;
