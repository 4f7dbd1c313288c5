"""MedRoom's settings: one object, read from the environment (``MEDROOM_*``), passed explicitly.

Nothing here is created at import time; ``Settings()`` is built by the command line (or a test)
and handed down to whatever needs it.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Annotated

from pydantic import BaseModel, Field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from library.i18n import LOCALES, known_locale, known_zone

DEMO_ROOM_FILE = Path(__file__).parent / "rooms" / "demo.toml"

ICE_SCHEMES = ("stun:", "stuns:", "turn:", "turns:")


class IceServer(BaseModel):
    """One STUN or TURN server handed to every peer connection (RTCIceServer's fields)."""

    urls: list[str]
    username: str | None = None
    credential: str | None = None

    @field_validator("urls", mode="before")
    @classmethod
    def _one_url(cls, value: object) -> object:
        return [value] if isinstance(value, str) else value

    @field_validator("urls")
    @classmethod
    def _known_schemes(cls, urls: list[str]) -> list[str]:
        if not urls:
            raise ValueError("an ICE server needs at least one URL")
        for url in urls:
            if not url.startswith(ICE_SCHEMES):
                raise ValueError(
                    f"'{url}' is not a STUN/TURN URL (stun:host:port, turn:host:port"
                    "?transport=udp|tcp, turns:host:port)"
                )
        return urls

    @property
    def is_turn(self) -> bool:
        return any(u.startswith(("turn:", "turns:")) for u in self.urls)


AE_TITLE = r"[ -\[\]-~]{1,16}"  # DICOM AE: 1-16 characters of the default repertoire, no backslash


class PacsServer(BaseModel):
    """One PACS the rooms may search, retrieve from and send to (issue 15).

    DICOMweb (``dicomweb_url``) is preferred when given; a PACS that speaks only DIMSE is
    reached at ``aet``@``host``:``port`` (C-ECHO, C-FIND, C-GET, C-STORE and the modality
    worklist), calling itself ``calling_aet``. Either or both may be given.
    """

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{0,31}$",
                    description="Short name used in URLs and the access log, e.g. 'hospital'.")
    label: str = Field(default="", max_length=100)
    dicomweb_url: str | None = Field(
        default=None, max_length=500, pattern=r"^https?://[^\s]+$",
        description="DICOMweb root, e.g. https://pacs.example.org/dicom-web")
    aet: str | None = Field(default=None, pattern=f"^{AE_TITLE}$",
                            description="The PACS's AE title (DIMSE).")
    host: str | None = Field(default=None, max_length=255)
    port: int | None = Field(default=None, ge=1, le=65535)
    calling_aet: str = Field(default="MEDROOM", pattern=f"^{AE_TITLE}$",
                             description="MedRoom's own AE title, as the PACS knows it.")
    username: str | None = Field(default=None, max_length=200)
    password: str | None = Field(default=None, max_length=500)
    tls_verify: bool = Field(
        default=True, description="Check the PACS's certificate (https DICOMweb, DIMSE TLS).")
    tls_ca_file: Path | None = Field(
        default=None, description="CA bundle (PEM) for a PACS whose certificate a private CA "
        "signed.")
    dimse_tls: bool = Field(default=False, description="Speak DIMSE over TLS (PS3.15 B.1).")
    timeout_seconds: float = Field(default=20.0, gt=0, le=600)
    rooms: list[str] = Field(default_factory=list,
                             description="Rooms that may use this PACS; empty: every room.")

    @model_validator(mode="after")
    def _reachable_somehow(self) -> PacsServer:
        dimse = (self.aet, self.host, self.port)
        if any(v is not None for v in dimse) and not all(v is not None for v in dimse):
            raise ValueError(f"PACS '{self.id}': DIMSE needs all of aet, host and port")
        if self.dicomweb_url is None and self.aet is None:
            raise ValueError(f"PACS '{self.id}': give dicomweb_url, or aet, host and port")
        if (self.username is None) != (self.password is None):
            raise ValueError(f"PACS '{self.id}': give both username and password, or neither")
        return self

    @property
    def speaks_dicomweb(self) -> bool:
        return self.dicomweb_url is not None

    @property
    def speaks_dimse(self) -> bool:
        return self.aet is not None

    def serves(self, room_id: str) -> bool:
        return not self.rooms or room_id in self.rooms


class Settings(BaseSettings):
    """Every knob of a MedRoom installation, with the embedded defaults."""

    model_config = SettingsConfigDict(env_prefix="MEDROOM_", extra="ignore")

    data_dir: Path = Field(
        default=Path("var"),
        description="Folder for the SQLite database, media, demo data and the secret key.",
    )
    database_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL; default is a SQLite file in data_dir. "
        "Use postgresql+psycopg://user@host/db for PostgreSQL.",
    )
    room_files: Annotated[list[Path], NoDecode] = Field(
        default_factory=lambda: [DEMO_ROOM_FILE],
        description="Room description files (TOML), comma separated in the environment.",
    )
    language: str = Field(
        default="en",
        description="Language of the pages for people whose account and browser name none "
        "MedRoom speaks: en, ro, sr-Latn, sr-Cyrl or bg.",
    )
    time_zone: str = Field(
        default="Europe/Bucharest",
        description="IANA time zone for times shown before a browser has told its own "
        "(and in documents made without a viewer); every time is stored in UTC.",
    )
    host: str = "127.0.0.1"
    port: int = Field(default=8000, ge=1, le=65535)
    secret_key: str | None = Field(
        default=None,
        description="Signs sessions and tokens; default is a random key kept in data_dir.",
    )
    cnp_key: str | None = Field(
        default=None,
        description="Master key of the CNPs encrypted at rest (at least 32 characters); "
        "default is a random key kept in data_dir/cnp.key, apart from secret_key so that "
        "rotating the session key never makes the stored CNPs unreadable.",
    )
    public_url: str | None = Field(
        default=None,
        description="The address people reach MedRoom at (e.g. https://medroom.example.org), "
        "for links that leave the server, such as the certificates' QR codes; default: the "
        "address each request came to.",
    )
    ice_addresses: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Local addresses ICE may offer (comma separated, e.g. 127.0.0.1). "
        "Empty means every non-loopback interface, as aioice does by default.",
    )
    ice_servers: Annotated[list[IceServer], NoDecode] = Field(
        default_factory=list,
        description="STUN/TURN servers for viewers behind NAT: comma separated URLs "
        "(turn:turn.example.org:3478, stun:...), credentials from ice_username and "
        "ice_credential; or a JSON list of {urls, username, credential}. Empty: host only.",
    )
    ice_username: str | None = Field(
        default=None, description="TURN username for ice_servers URLs given without one."
    )
    ice_credential: str | None = Field(
        default=None, description="TURN password for ice_servers URLs given without one."
    )
    token_ttl_seconds: int = Field(default=12 * 3600, gt=0)
    media_link_ttl_seconds: int = Field(
        default=6 * 3600, gt=0,
        description="Lifetime of a signed link to a lesson's media (a page load makes new ones).",
    )
    keyframe_min_interval: float = Field(
        default=0.5, gt=0, description="At most one forced keyframe per this many seconds."
    )
    whep_joins_per_minute: int = Field(
        default=20, gt=0,
        description="WHEP joins one user (or token subject) may make per minute (token bucket); "
        "more are refused with 429 and Retry-After.",
    )
    verify_lookups_per_minute: int = Field(
        default=30, gt=0,
        description="Certificate verification pages (/verify/{number}, public) one client address "
        "may open per minute: enough for anyone checking certificates, too few to enumerate them.",
    )
    login_failures_per_account: int = Field(
        default=5, ge=1, le=1000,
        description="Failed log-ins one account (the name as typed) may have within "
        "login_account_window_seconds; then every attempt on it, the right password included, "
        "is refused with 429 and Retry-After until the oldest failure is that old.",
    )
    login_account_window_seconds: int = Field(default=15 * 60, ge=1, le=24 * 3600)
    login_failures_per_address: int = Field(
        default=20, ge=1, le=10000,
        description="Failed log-ins one client address may have within "
        "login_address_window_seconds (one machine trying many accounts); then 429.",
    )
    login_address_window_seconds: int = Field(default=60, ge=1, le=24 * 3600)
    whep_sessions_per_user: int = Field(
        default=5, gt=0, description="Live WHEP sessions one user may hold at once."
    )
    upload_max_bytes: int = Field(
        default=1024**3, ge=1024, le=256 * 1024**3,
        description="Largest request body of a DICOM upload (a room source's series or a "
        "lesson's attachment), counted as it arrives; more is refused with 413.",
    )
    upload_max_expanded_bytes: int = Field(
        default=2 * 1024**3, ge=1024, le=1024**4,
        description="Most bytes one DICOM upload may write once its zips are unpacked, counted "
        "as they are unpacked (a zip's declared sizes are not trusted); more is refused with 413 "
        "and nothing of the upload stays on disk.",
    )
    upload_max_files: int = Field(
        default=5000, ge=1, le=100_000,
        description="Most files (zip members included) in one DICOM upload.",
    )
    upload_max_slice_bytes: int = Field(
        default=64 * 1024**2, ge=1024, le=16 * 1024**3,
        description="Largest single DICOM file of an upload, and largest decoded frame: what "
        "one slice may take in memory when it is shown or de-identified.",
    )
    recordings_dir: Path | None = Field(
        default=None, description="Where recordings are kept; default data_dir/recordings."
    )
    library_dir: Path | None = Field(
        default=None, description="Where published lessons and their attachments are kept; "
        "default data_dir/library.",
    )
    recording_max_seconds: float = Field(
        default=4 * 3600, gt=0,
        description="Failsafe: a recording is stopped after this long, whatever happens.",
    )
    storage_warn_bytes: int = Field(
        default=10 * 10**9, ge=0, description="Warn the console below this much free space."
    )
    storage_stop_bytes: int = Field(
        default=1 * 10**9, ge=0,
        description="Stop recordings cleanly below this much free space, before the disk fills.",
    )
    demo: bool = Field(
        default=True, description="Prepare the demo data (users, CT phantom) on start."
    )
    demo_library: bool = Field(
        default=True,
        description="With demo: on first start, record and publish a few demo lessons (and "
        "leave one recording to curate), in the background.",
    )
    secure_cookies: bool = Field(
        default=False, description="Mark session cookies Secure (set when served over HTTPS)."
    )
    cors_origins: Annotated[list[str], NoDecode] = Field(
        default_factory=list,
        description="Web origins (https://lms.example.org, comma separated) whose pages may "
        "use the WHEP and WHIP endpoints and their session URLs (CORS), or '*' for any page; "
        "nothing else of the API. Empty: only MedRoom's own pages.",
    )
    whep_connect_timeout_seconds: float = Field(
        default=30.0, gt=0, le=300,
        description="A WHEP session whose client has not connected this long after its offer "
        "is ended (it stops counting against the viewer's session limit).",
    )

    pacs: Annotated[list[PacsServer], NoDecode] = Field(
        default_factory=list,
        description="The hospital's PACS, as a JSON list of {id, dicomweb_url | aet, host, port, "
        "calling_aet, username, password, tls_verify, tls_ca_file, dimse_tls, rooms}. Each is "
        "asked at start; one that does not answer is logged and shown in the console.",
    )
    pacs_retention_hours: float = Field(
        default=24.0, ge=0, le=24 * 90,
        description="Patient images retrieved from a PACS stay in the room this long after the "
        "live session they served ends (or after retrieval, with no session), then are deleted.",
    )
    pacs_max_series_slices: int = Field(
        default=5000, ge=1, le=100_000,
        description="Most instances one retrieved series may have; a bigger one is refused.",
    )

    @field_validator("pacs", mode="before")
    @classmethod
    def _pacs_json(cls, value: object) -> object:
        if isinstance(value, str):
            try:
                value = json.loads(value) if value.strip() else []
            except json.JSONDecodeError as exc:
                raise ValueError(f"MEDROOM_PACS is not valid JSON: {exc}") from None
        return value

    @field_validator("pacs")
    @classmethod
    def _unique_pacs(cls, value: list[PacsServer]) -> list[PacsServer]:
        ids = [p.id for p in value]
        doubles = sorted({i for i in ids if ids.count(i) > 1})
        if doubles:
            raise ValueError(f"PACS ids must be unique: {', '.join(doubles)} given twice")
        return value

    @field_validator("room_files", "ice_addresses", mode="before")
    @classmethod
    def _split_commas(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("language")
    @classmethod
    def _known_language(cls, value: str) -> str:
        locale = known_locale(value)
        if locale is None:
            raise ValueError(f"MEDROOM_LANGUAGE must be one of {', '.join(LOCALES.values())}, "
                             f"not {value!r}")
        return locale

    @field_validator("time_zone")
    @classmethod
    def _known_time_zone(cls, value: str) -> str:
        if known_zone(value) is None:
            raise ValueError(f"MEDROOM_TIME_ZONE must be an IANA time zone such as "
                             f"Europe/Bucharest, not {value!r}")
        return value

    @field_validator("cors_origins", mode="before")
    @classmethod
    def _origins(cls, value: object) -> object:
        if isinstance(value, str):
            value = [part.strip() for part in value.split(",") if part.strip()]
        if not isinstance(value, list):
            return value
        origins = [str(o).strip().rstrip("/") for o in value]
        if "*" in origins and len(origins) > 1:
            raise ValueError("'*' allows every origin: give it alone, or list the origins")
        for origin in origins:
            if origin != "*" and not re.fullmatch(r"https?://[^/\s?#]+", origin):
                raise ValueError(
                    f"'{origin}' is not a web origin (scheme://host[:port], no path), "
                    "e.g. https://lms.example.org"
                )
        return origins

    @field_validator("ice_servers", mode="before")
    @classmethod
    def _ice_servers(cls, value: object) -> object:
        if not isinstance(value, str):
            return value
        text = value.strip()
        if text.startswith("["):
            try:
                return json.loads(text)
            except json.JSONDecodeError as exc:
                raise ValueError(f"not valid JSON: {exc}") from None
        return [{"urls": [part.strip()]} for part in text.split(",") if part.strip()]

    @model_validator(mode="after")
    def _turn_credentials(self) -> Settings:
        for server in self.ice_servers:
            if not server.is_turn:
                continue
            if server.username is None:
                server.username = self.ice_username
            if server.credential is None:
                server.credential = self.ice_credential
            if not server.username or not server.credential:
                raise ValueError(
                    f"TURN server {server.urls[0]} needs a username and a credential "
                    "(MEDROOM_ICE_USERNAME and MEDROOM_ICE_CREDENTIAL, or in the JSON form)"
                )
        return self

    @property
    def resolved_database_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite:///{(self.data_dir / 'medroom.db').resolve()}"

    @property
    def resolved_recordings_dir(self) -> Path:
        return self.recordings_dir or self.data_dir / "recordings"

    @property
    def resolved_library_dir(self) -> Path:
        return self.library_dir or self.data_dir / "library"

    def resolve_secret_key(self) -> str:
        """The configured key, or a random one created once and kept in ``data_dir``."""
        return self.secret_key or self._kept_key("secret.key")

    def resolve_cnp_key(self) -> str:
        """The CNP master key: ``cnp_key``, or a random one kept in ``data_dir/cnp.key``."""
        return self.cnp_key or self._kept_key("cnp.key")

    def _kept_key(self, name: str) -> str:
        import secrets

        path = self.data_dir / name
        if not path.exists():
            self.data_dir.mkdir(parents=True, exist_ok=True)
            path.write_text(secrets.token_urlsafe(48))
            path.chmod(0o600)
        return path.read_text().strip()
