// The word, on the watch page: when the instructor accepts this student's hand, the classroom's
// "speaking" message carries the rights that go with it (web/speaker_rights.py): the talkback
// credential (the page asks for the microphone and speaks to the room) and the drawing colour
// (the overlay's own data channel enables Draw). When the speech ends, the talkback ends too;
// when the student stops talking back (its Stop button), the server ends the speech.
"use strict";
(function () {
  const MedRoom = (window.MedRoom = window.MedRoom || {});
  let speaking = false;

  document.addEventListener("medroom:speaking", (event) => {
    const detail = event.detail || {};
    const grant = detail.grant || {};
    if (detail.speaking && !speaking) {
      speaking = true;
      if (grant.talkback) {
        MedRoom.startTalkback(grant.talkback);
      } else if (grant.talkback_refused || grant.refused) {
        const note = document.getElementById("draw-note");
        if (note) {
          note.hidden = false;
          // The server's reason is English (it is decided in the instructor's action, not for
          // this page): the developer console has it, the person reads what to do.
          console.warn("talkback refused:", grant.talkback_refused || grant.refused);
          note.textContent = gettext("You have the floor, but the room cannot hear you: the microphone link could not be set up. Ask the instructor to accept your hand again.");
        }
      }
    } else if (!detail.speaking && speaking) {
      speaking = false;
      MedRoom.endTalkback(gettext("The instructor ended your turn.")); // nothing if already stopped
    }
  });
})();
