"""Debian's Firefox ESR, headless, driven over WebDriver BiDi (no geckodriver, no download).

Firefox's own remote agent (``--remote-debugging-port``) speaks WebDriver BiDi on a WebSocket
at ``/session``; the few commands a test needs (navigate, evaluate) are JSON messages. The
profile is fresh and offline: the OpenH264 plugin is never fetched (so the browser offers
VP8/VP9/AV1 only, as on a locked-down hospital machine), WebRTC may use loopback, autoplay is
allowed.
"""

from __future__ import annotations

import asyncio
import itertools
import json
import os
import shutil
import subprocess
import tempfile
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import websockets

from tests.conftest import free_port

FIREFOX = os.environ.get("MEDROOM_FIREFOX", "/usr/bin/firefox-esr")

PREFS: dict[str, object] = {
    # No OpenH264 download (offline machines never get it): VP8 is what it can receive.
    "media.gmp-gmpopenh264.enabled": False,
    "media.gmp-gmpopenh264.autoupdate": False,
    "media.gmp-manager.url": "",
    "media.gmp-manager.updateEnabled": False,
    # MedRoom's test servers offer 127.0.0.1 only; Firefox skips loopback unless told.
    "media.peerconnection.ice.loopback": True,
    "media.peerconnection.ice.obfuscate_host_addresses": False,
    "media.autoplay.default": 0,
    "media.autoplay.blocking_policy": 0,
    # Nothing leaves the machine: no updates, telemetry, safe browsing or portal probes.
    "app.update.enabled": False,
    "browser.shell.checkDefaultBrowser": False,
    "datareporting.policy.dataSubmissionEnabled": False,
    "toolkit.telemetry.enabled": False,
    "network.captive-portal-service.enabled": False,
    "network.connectivity-service.enabled": False,
    "browser.safebrowsing.malware.enabled": False,
    "browser.safebrowsing.phishing.enabled": False,
    "extensions.update.enabled": False,
    "browser.search.update": False,
    "remote.prefs.recommended": True,
}

START_TIMEOUT = 90.0  # a cold Firefox on a loaded 2-core machine


class BiDiError(RuntimeError):
    pass


class Firefox:
    """One headless Firefox and its one tab."""

    def __init__(self, ws: Any, context: str) -> None:
        self._ws = ws
        self._ids = itertools.count(1)
        self.context = context

    @staticmethod
    async def _command(ws: Any, ids: itertools.count[int], method: str,
                       params: dict[str, Any]) -> dict[str, Any]:
        number = next(ids)
        await ws.send(json.dumps({"id": number, "method": method, "params": params}))
        while True:
            message = json.loads(await ws.recv())
            if message.get("id") != number:
                continue  # an event
            if message.get("type") == "error":
                raise BiDiError(f"{method}: {message.get('error')}: {message.get('message')}")
            result: dict[str, Any] = message["result"]
            return result

    async def command(self, method: str, params: dict[str, Any]) -> dict[str, Any]:
        return await self._command(self._ws, self._ids, method, params)

    async def navigate(self, url: str) -> None:
        await self.command("browsingContext.navigate",
                           {"context": self.context, "url": url, "wait": "complete"})

    async def evaluate(self, expression: str) -> Any:
        """The value of a JavaScript expression in the tab (promises are awaited)."""
        result = await self.command("script.evaluate", {
            "expression": expression, "target": {"context": self.context},
            "awaitPromise": True, "serializationOptions": {"maxObjectDepth": 4},
        })
        if result.get("type") == "exception":
            raise BiDiError(f"{expression[:80]!r}: {result['exceptionDetails']['text']}")
        return _value(result["result"])

    async def wait_for(self, expression: str, timeout: float) -> Any:
        deadline = time.monotonic() + timeout
        while True:
            value = await self.evaluate(expression)
            if value:
                return value
            if time.monotonic() > deadline:
                raise TimeoutError(f"{expression!r} still false after {timeout:g} s")
            await asyncio.sleep(0.25)


def _value(remote: dict[str, Any]) -> Any:
    """A BiDi remote value as Python (primitives, arrays and plain objects)."""
    kind = remote["type"]
    if kind in ("undefined", "null"):
        return None
    if kind == "array":
        return [_value(v) for v in remote.get("value", [])]
    if kind == "object":
        return {k: _value(v) for k, v in remote.get("value", [])}
    return remote.get("value")


@asynccontextmanager
async def firefox() -> AsyncIterator[Firefox]:
    if not Path(FIREFOX).exists():
        raise RuntimeError(f"Firefox ESR not found at {FIREFOX}: apt-get install firefox-esr")
    profile = Path(tempfile.mkdtemp(prefix="medroom-firefox-"))
    (profile / "user.js").write_text("".join(
        f"user_pref({json.dumps(k)}, {json.dumps(v)});\n" for k, v in PREFS.items()))
    port = free_port()
    log = (profile / "firefox.log").open("wb")
    process = await asyncio.create_subprocess_exec(
        FIREFOX, "--headless", "--no-remote", "--profile", str(profile),
        f"--remote-debugging-port={port}", "about:blank",
        stdout=log, stderr=subprocess.STDOUT,
    )
    try:
        deadline = time.monotonic() + START_TIMEOUT
        while True:
            try:
                ws = await websockets.connect(f"ws://127.0.0.1:{port}/session", max_size=None)
                break
            except OSError:
                if process.returncode is not None or time.monotonic() > deadline:
                    raise RuntimeError("Firefox's remote agent did not start: "
                                       + (profile / "firefox.log").read_text()[-500:]) from None
                await asyncio.sleep(0.2)
        async with ws:
            ids = itertools.count(1)
            await Firefox._command(ws, ids, "session.new", {"capabilities": {}})
            tree = await Firefox._command(ws, ids, "browsingContext.getTree", {})
            browser = Firefox(ws, tree["contexts"][0]["context"])
            browser._ids = ids
            try:
                yield browser
            finally:
                try:
                    await asyncio.wait_for(browser.command("session.end", {}), 5)
                except (BiDiError, TimeoutError, websockets.ConnectionClosed):
                    pass
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 20)
            except TimeoutError:
                process.kill()
                await process.wait()
        log.close()
        shutil.rmtree(profile, ignore_errors=True)
