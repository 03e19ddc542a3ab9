"""HTTP API and web UI (``zhisou serve``): FastAPI + Jinja2 over one index directory."""
