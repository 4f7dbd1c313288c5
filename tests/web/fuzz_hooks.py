"""Schemathesis hooks for the fuzz run (loaded through SCHEMATHESIS_HOOKS): WHEP and WHIP take
their offer as application/sdp, which schemathesis does not know; it is text, so send the
generated strings as they are (the server must refuse nonsense with a 4xx)."""

import schemathesis

schemathesis.serializer.alias("application/sdp", "text/plain")
