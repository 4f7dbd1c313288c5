"""The Jinja2 templates of the pages (server-rendered, no front-end build step), speaking the
viewer's language (``web/i18n.py``)."""

from pathlib import Path

from fastapi.templating import Jinja2Templates

from web import i18n

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
i18n.install(templates.env)
