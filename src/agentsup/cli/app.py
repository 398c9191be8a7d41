"""The Typer application: the root options, the shared option types, one-line usage errors, and
the helpers every command uses (`load` the config, `emit` a result as text or `--json`).

Commands live in `commands.py`, `admin.py` and `fleet.py`, which register themselves on `app`;
`main.py` is the entry point. Each command imports the core it needs inside its function, so a
command pays only for what it uses.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Annotated, Any

import typer
from typer._click import exceptions as click  # Typer vendors click; its errors live here
from typer._click.core import Context
from typer.core import TyperGroup

from agentsup import __version__
from agentsup.cli import render
from agentsup.errors import AgentsupError

if TYPE_CHECKING:
    from agentsup.config.load import Config

CONFIG_HELP = "agents.toml (else $AGENTSUP_CONFIG, else the nearest agents.toml up from here)"
EPILOG = ("Exit codes: 0 ok, 1 failed, 2 usage or config error, 3 unknown name, 4 tmux unavailable, "
          "75 another watchdog holds the lock. `agentsup COMMAND --help` for a command's options.")


def complete_names(ctx: typer.Context, incomplete: str) -> list[str]:
    """Agent and service names of the config this command would load (for shell completion);
    `logs` also takes the watchdog's."""
    from agentsup.config.files import find_config
    from agentsup.config.load import load_config

    path = ctx.params.get("config") or (ctx.find_root().params.get("config"))
    try:
        cfg = load_config(find_config(path))
    except AgentsupError:
        return []
    extra = ["watchdog"] if ctx.info_name == "logs" else []
    return [n for n in [*cfg.agents, *cfg.services, *extra] if n.startswith(incomplete)]


ConfigOption = Annotated[str | None, typer.Option("-c", "--config", help=CONFIG_HELP, show_default=False)]
JsonOption = Annotated[bool, typer.Option("--json", help="machine-readable output")]


def flag(name: str, help: str) -> Any:
    """A boolean option with only its positive form (`--force`, not `--force/--no-force`)."""
    return typer.Option(name, help=help)


@dataclass
class Call:
    """What one command was asked: the config it names (after the command or before it) and --json."""

    config: str | None
    json: bool = False
    config_error: str | None = None  # set when the last valid copy of a broken config is used

    @classmethod
    def of(cls, ctx: typer.Context, config: str | None, json: bool = False) -> Call:
        return cls(config or ctx.find_root().params.get("config"), json)


def load(call: Call, *, last_good: bool = False, apply_overrides: bool = True) -> Config:
    """The config; for commands that read or stop (`last_good`), a config that stopped validating
    falls back to its last valid copy, so the operator can still see and stop everything."""
    from agentsup.config.files import find_config, remember_good
    from agentsup.config.lastgood import load_valid
    from agentsup.config.load import load_config

    path = find_config(call.config)
    if not last_good:
        cfg = load_config(path, apply_overrides=apply_overrides)
        remember_good(cfg.path)
        return cfg
    cfg, call.config_error = load_valid(path, apply_overrides=apply_overrides)
    if call.config_error is not None:
        render.warn(f"{path} is invalid; using its last valid copy (`agentsup check` shows the error)")
    return cfg


def emit(call: Call, value: Any, text: Callable[[], str]) -> None:
    if call.json:
        render.print_json(value)
    else:
        rendered = text()
        if rendered:
            render.write(rendered)


def done(code: int) -> None:
    """End the command with `code` (Typer returns it from `run`)."""
    if code:
        raise typer.Exit(code)


class Commands(TyperGroup):
    """Unknown commands are named with a did-you-mean; the listing keeps the order of definition."""

    def list_commands(self, ctx: Context) -> list[str]:
        return list(self.commands)

    def resolve_command(self, ctx: Context, args: list[str]) -> Any:
        name = args[0] if args else ""
        if name and not name.startswith("-") and self.get_command(ctx, name) is None:
            from agentsup.config.tables import suggest

            shown = [n for n, c in self.commands.items() if not c.hidden]
            raise click.UsageError(f"unknown command {name!r}{suggest(name, shown)}; commands: {', '.join(shown)}",
                                   ctx)
        return super().resolve_command(ctx, args)


app = typer.Typer(name="agentsup", cls=Commands, add_completion=False, rich_markup_mode="rich",
                  help="Keep long-running AI coding agents working in tmux, driven by agents.toml.",
                  epilog=EPILOG, context_settings={"help_option_names": ["-h", "--help"]},
                  pretty_exceptions_enable=False)


def _version(value: bool) -> None:
    if value:
        render.write(f"agentsup {__version__}")
        raise typer.Exit(0)


def _show_completion(value: str | None) -> None:
    if value is not None:
        from .completion import script

        sys.stdout.write(script(None if value == FROM_SHELL else value))
        raise typer.Exit(0)


def _install_completion(value: str | None) -> None:
    if value is not None:
        from .completion import install

        shell, path, after = install(None if value == FROM_SHELL else value)
        render.write(f"installed {shell} completion: {path}" + (f"\nthen {after}" if after else ""))
        raise typer.Exit(0)


SHELL_HELP = "bash, zsh or fish (default: $SHELL)"
FROM_SHELL = "$SHELL"  # the value of a bare --show-completion / --install-completion


@app.callback(invoke_without_command=True)
def root(
    ctx: typer.Context,
    config: ConfigOption = None,
    version: Annotated[bool, typer.Option("--version", is_eager=True, callback=_version,
                                          help="print the version")] = False,
    show_completion: Annotated[str | None, typer.Option(
        "--show-completion", metavar="[SHELL]", callback=_show_completion,
        expose_value=False, help=f"print the completion script for {SHELL_HELP}")] = None,
    install_completion: Annotated[str | None, typer.Option(
        "--install-completion", metavar="[SHELL]", callback=_install_completion,
        expose_value=False, help=f"install completion for {SHELL_HELP}")] = None,
) -> None:
    if ctx.invoked_subcommand is None and not ctx.resilient_parsing:
        render.write(ctx.get_help())
        raise typer.Exit(2)
