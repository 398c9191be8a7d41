"""The Typer application: the root options, the shared option types, one-line usage errors, and
the helpers every command uses (`load` the config, `emit` a result as text or `--json`).

Commands live in `commands.py` and `admin.py`; each imports the core it needs inside its function,
so a command pays only for what it uses.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Annotated, Any

import typer
from typer._click import exceptions as click  # Typer vendors click; its errors live here
from typer._click.core import Context
from typer.core import TyperGroup

from agentsup import __version__
from agentsup.cli import render
from agentsup.errors import AgentsupError

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


def load(call: Call, *, last_good: bool = False, apply_overrides: bool = True) -> Any:
    """The config; for commands that read or stop (`last_good`), a config that stopped validating
    falls back to its last valid copy, so the operator can still see and stop everything."""
    from agentsup.config.files import find_config, load_valid, remember_good
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


def _usage_line(exc: click.UsageError) -> str:
    """click's usage error as one line, in the words `agentsup` has always used."""
    message = exc.format_message()
    if isinstance(exc, click.NoSuchOption):
        hint = f" (did you mean {exc.possibilities[0]}?)" if exc.possibilities else ""
        message = f"unrecognized arguments: {exc.option_name}{hint}"
    elif message.startswith("Got unexpected extra argument"):
        message = "unrecognized arguments: " + message.rsplit("(", 1)[1].rstrip(")")
    where = exc.ctx.command_path if exc.ctx is not None else "agentsup"
    return f"{where}: {message} (`{where} --help` for help)"


def _lighter_help() -> None:
    """Typer's rich help module imports rich.markdown and rich.traceback as it loads, for markdown
    help and pretty tracebacks, neither of which agentsup uses; they were two thirds of `--help`'s
    time. While help is printed (then the process ends), named stand-ins take their place."""
    import types

    for name, attr in (("rich.markdown", "Markdown"), ("rich.traceback", "Traceback")):
        if name not in sys.modules:
            module = types.ModuleType(name, "a stand-in while agentsup prints help")
            setattr(module, attr, type(attr, (), {}))
            sys.modules[name] = module


def _command_word(argv: Sequence[str]) -> str | None:
    """The command `argv` names, when nothing before it but `-c/--config` (else None)."""
    i = 0
    while i < len(argv):
        word = argv[i]
        if word in ("-c", "--config"):
            i += 2
        elif word.startswith("--config="):
            i += 1
        else:
            return None if word.startswith("-") else word
    return None


def _only_the_invoked_command(argv: Sequence[str]) -> None:
    """Typer inspects every command's signature to build its click group, about a millisecond
    each; a run that names a known command builds just that one (help and completion build all)."""
    name = _command_word(argv)
    chosen = [c for c in app.registered_commands
              if name is not None and (c.name or (c.callback.__name__ if c.callback else "")) == name]
    group = [g for g in app.registered_groups if name is not None and g.name == name]
    if len(chosen) + len(group) == 1 and "--help" not in argv and "-h" not in argv:
        app.registered_commands[:] = chosen
        app.registered_groups[:] = group


def _shell_named(argv: Sequence[str]) -> list[str]:
    """`--show-completion` and `--install-completion` take an optional shell; a Typer option cannot,
    so a bare one (at the end, or before an option or a command) is given $SHELL's here."""
    commands = {c.name or (c.callback.__name__ if c.callback else "") for c in app.registered_commands}
    commands |= {g.name or "" for g in app.registered_groups}
    out: list[str] = []
    for i, word in enumerate(argv):
        out.append(word)
        following = argv[i + 1] if i + 1 < len(argv) else None
        if word in ("--show-completion", "--install-completion") and (
                following is None or following.startswith("-") or following in commands):
            out.append(FROM_SHELL)
    return out


def run(argv: Sequence[str]) -> int:
    from . import admin, commands, fleet  # noqa: F401  (they register themselves on `app`)
    from .completion import requested

    completing = requested()  # the shell asks for candidates: Typer's completion classes answer
    if "--help" in argv or "-h" in argv:
        _lighter_help()
    elif not completing:
        _only_the_invoked_command(argv)

    command = typer.main.get_command(app)
    try:
        result = command.main(_shell_named(argv), prog_name="agentsup", standalone_mode=False)
    except click.UsageError as exc:
        if exc.format_message().strip():  # empty: a group called bare, whose help was printed
            render.error(_usage_line(exc))
        return 2
    except typer.Abort:
        return 130
    return result if isinstance(result, int) else 0


def main() -> None:
    try:
        code = run(sys.argv[1:])
    except AgentsupError as exc:
        render.error(str(exc))
        code = exc.exit_code
    except OSError as exc:  # a file the user named that is not there: a message, never a traceback
        render.error(f"{exc.strerror or exc}: {exc.filename or ''}".rstrip(": "))
        code = 1
    except KeyboardInterrupt:
        code = 130
    sys.exit(code)
