"""The Jinja2 templates of the pages (server-rendered, no front-end build step)."""

from pathlib import Path

from fastapi.templating import Jinja2Templates

templates = Jinja2Templates(directory=Path(__file__).parent / "templates")
