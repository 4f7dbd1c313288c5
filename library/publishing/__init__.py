"""Publishing recordings as library lessons: remux, stills, chapters, de-identification.

Pure domain code on plain values (paths, numbers, dataclasses): the job runner and the web
layer wire it to the database and HTTP. Everything here is blocking CPU and file work, to be
run off the event loop (``asyncio.to_thread``).
"""
