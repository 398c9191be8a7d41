"""Shell completion: a small script per shell that asks `agentsup __complete` for candidates, so
commands, options and the names of the agents in the nearest agents.toml complete."""

from __future__ import annotations

import os
from pathlib import Path

SHELLS = ("bash", "zsh", "fish")

SCRIPTS = {
    "bash": """\
_agentsup_complete() {
    local IFS=$'\\n'
    COMPREPLY=( $(agentsup __complete "$COMP_CWORD" "${COMP_WORDS[@]}" 2>/dev/null) )
}
complete -o default -F _agentsup_complete agentsup
""",
    "zsh": """\
#compdef agentsup
_agentsup() {
    local -a candidates
    candidates=("${(@f)$(agentsup __complete $((CURRENT - 1)) "${words[@]}" 2>/dev/null)}")
    compadd -- $candidates
}
compdef _agentsup agentsup
""",
    "fish": """\
complete -c agentsup -f -a '(agentsup __complete (count (commandline -opc)) (commandline -opc) (commandline -ct))'
""",
}

# Where each shell looks for completions of its own accord (bash-completion, fish), or where we
# put it and say what to add (zsh).
TARGETS = {
    "bash": ".local/share/bash-completion/completions/agentsup",
    "zsh": ".zfunc/_agentsup",
    "fish": ".config/fish/completions/agentsup.fish",
}


def shell_of(name: str | None) -> str:
    shell = name or Path(os.environ.get("SHELL", "bash")).name
    if shell not in SHELLS:
        raise ValueError(f"no completion for shell {shell!r}: choose one of {', '.join(SHELLS)}")
    return shell


def install(shell: str, home: Path | None = None) -> tuple[Path, str]:
    """Write the script where `shell` finds it; returns the path and what else to do ('' if nothing)."""
    target = (home or Path.home()) / TARGETS[shell]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(SCRIPTS[shell], encoding="utf-8")  # not a secret: the shell reads it
    after = "add `fpath+=~/.zfunc; autoload -Uz compinit; compinit` to ~/.zshrc" if shell == "zsh" else ""
    return target, after


NAMED = ("up", "down", "logs", "attach", "ping", "restart", "reset", "run")  # `status`, `events` take none
PHASE_ACTIONS = ("show", "list", "next", "set")  # the phase command's choices (cli.py uses this too)


def candidates(cword: int, words: list[str], commands: dict[str, list[str]], names: list[str]) -> list[str]:
    """What may stand at position `cword` of `words` (words[0] is the program): a command, one of
    its options, or an agent name. `commands` maps each command to its options."""
    current = words[cword] if cword < len(words) else ""
    before = words[1:cword]
    if before and before[-1] in ("-c", "--config"):
        return []  # a file: the shell's own completion does it
    skip = False
    command = None
    for word in before:  # the first word that is not a global option or its value
        if skip:
            skip = False
        elif word in ("-c", "--config"):
            skip = True
        elif not word.startswith("-"):
            command = word
            break
    if command is None:
        pool = list(commands) if not current.startswith("-") else ["-c", "--config", "--version", "--help",
                                                                   "--install-completion", "--show-completion"]
    elif current.startswith("-"):
        pool = commands.get(command, [])
    elif command in NAMED:  # exactly the commands that take agent names as arguments
        pool = names
    elif command == "phase":
        pool = list(PHASE_ACTIONS)
    else:
        pool = []
    return sorted(c for c in pool if c.startswith(current))
