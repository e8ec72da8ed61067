"""Import target for ASGI servers (`uvicorn app.asgi:app --workers N`)."""

from app.main import create_app

app = create_app()
