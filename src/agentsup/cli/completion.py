"""Shell completion through Typer: its scripts and installer, with the shell named or taken from
$SHELL (Typer would otherwise guess from the parent process, which is wrong under sudo and in CI)."""

from __future__ import annotations

import os
from pathlib import Path

from agentsup.errors import ConfigError

SHELLS = ("bash", "zsh", "fish")
PROG = "agentsup"
COMPLETE_VAR = "_AGENTSUP_COMPLETE"


def shell_of(name: str | None) -> str:
    shell = name or Path(os.environ.get("SHELL", "bash")).name
    if shell not in SHELLS:
        raise ConfigError(f"no completion for shell {shell!r}: choose one of {', '.join(SHELLS)}")
    return shell


def script(name: str | None) -> str:
    from typer._completion_shared import get_completion_script

    return get_completion_script(prog_name=PROG, complete_var=COMPLETE_VAR, shell=shell_of(name)) + "\n"


def install(name: str | None) -> tuple[str, Path, str]:
    """Typer's installer: the script into the shell's completion folder and the line that loads it
    into its rc file. Returns the shell, the script's path and what else to do ('' if nothing)."""
    from typer._completion_shared import install as typer_install

    shell, path = typer_install(shell=shell_of(name), prog_name=PROG, complete_var=COMPLETE_VAR)
    return shell, path, "open a new shell (or source its rc file) to use it"


def requested() -> bool:
    """True when the shell asks for candidates (the variable Typer's scripts set)."""
    if not os.environ.get(COMPLETE_VAR):
        return False
    from typer._completion_classes import completion_init

    completion_init()
    return True
