"""The entry point: every command module registered on the Typer app, argv run through it, and
whatever goes wrong said in one line with its exit code (never a traceback)."""

from __future__ import annotations

import importlib
import sys
from collections.abc import Sequence

import typer
from typer._click import exceptions as click  # Typer vendors click; its errors live here

from agentsup.cli import render
from agentsup.cli.app import FROM_SHELL, app
from agentsup.cli.web import BARE_FLEET
from agentsup.errors import AgentsupError

for _module in ("commands", "admin", "fleet", "web"):  # each registers its commands on `app`, listed in this order
    importlib.import_module(f"agentsup.cli.{_module}")


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
    named = {c.name or (c.callback.__name__ if c.callback else "") for c in app.registered_commands}
    named |= {g.name or "" for g in app.registered_groups}
    out: list[str] = []
    for i, word in enumerate(argv):
        out.append(word)
        following = argv[i + 1] if i + 1 < len(argv) else None
        if word in ("--show-completion", "--install-completion") and (
                following is None or following.startswith("-") or following in named):
            out.append(FROM_SHELL)
        elif word == "--fleet" and "web" in out[:i] and (following is None or following.startswith("-")):
            out.append(BARE_FLEET)  # `agentsup web --fleet`: the fleet.toml found as `fleet` finds it
    return out


def run(argv: Sequence[str]) -> int:
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
