"""The live classroom's social layer: chat, moderated questions, the raised-hand queue and
polls of one live session, held in memory by a ``ClassroomHub`` (``hub.py``).

Plain values in, plain values out: no web framework and no database here. The web layer feeds
each participant's messages to ``ClassroomHub.handle`` and sends what the hub publishes; the
persistence layer listens to the hub's ``Record``s (``records.py``).
"""
