"""agentsup web: the agents live in a browser (the optional `web` extra: Starlette and uvicorn)."""
