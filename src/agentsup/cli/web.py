"""`agentsup web`: the fleet in a browser (the optional `web` extra; imported only here)."""

from __future__ import annotations

from typing import Annotated

import typer

from agentsup.errors import AgentsupError

from .app import Call, ConfigOption, app, flag, load

BARE_FLEET = "-"  # the value of a bare --fleet: fleet.toml found as `agentsup fleet` finds it


@app.command()
def web(ctx: typer.Context, config: ConfigOption = None,
        host: Annotated[str, typer.Option("--host", help="address to listen on (loopback by default)")] = "127.0.0.1",
        port: Annotated[int, typer.Option("--port", help="port (0: a free one, named in the printed URL)")] = 8420,
        fleet: Annotated[str | None, typer.Option(
            "--fleet", metavar="[FLEET.toml]", show_default=False,
            help="every host of fleet.toml (bare: $AGENTSUP_FLEET, else the nearest fleet.toml)")] = None,
        actions: Annotated[bool, flag("--actions", "allow ping, restart, reset, up and down from the page")] = False,
        allow_host: Annotated[list[str] | None, typer.Option(
            "--allow-host", help="another name the Host header may carry (a proxy's, a tunnel's)")] = None,
        new_token: Annotated[bool, flag("--new-token", "replace the login token (logs every browser out)")] = False,
        ) -> None:
    """Serve a live view of every agent in the browser; prints its login URL."""
    try:
        import starlette  # noqa: F401
        import uvicorn  # noqa: F401
    except ImportError:
        raise AgentsupError("agentsup web needs the web extra: pip install 'agentsup[web]' "
                            "(from a clone: uv sync --extra web)") from None
    from agentsup.store.state import StateDir
    from agentsup.web.serve import WebOptions, serve
    from agentsup.web.sources import FleetSource, LocalSource

    if not 0 <= port <= 65535:
        raise AgentsupError(f"--port {port}: a port is 0 to 65535")
    options = WebOptions(host=host, port=port, actions=actions, allow_hosts=tuple(allow_host or ()),
                         new_token=new_token)
    if fleet is not None:
        from agentsup.config.files import state_home
        from agentsup.fleet.config import find_fleet, load_fleet

        path = find_fleet(None if fleet == BARE_FLEET else fleet)
        load_fleet(path)  # a mistake in it is named now, not on the first page load
        if actions:
            raise AgentsupError("--actions works on one host's agents.toml; across hosts use `agentsup fleet`")
        serve(FleetSource(path), StateDir(state_home()).web_token(), options)
        return
    cfg = load(Call.of(ctx, config), last_good=True)
    serve(LocalSource(cfg.path), StateDir(cfg.state_dir).web_token(), options)
