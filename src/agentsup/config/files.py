"""Where configs are found and what is kept about them: discovery from the working directory, the
per-config state home, and the last valid copy of each config (read and stop commands fall back
to it when the file stops validating)."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from pathlib import Path


def find_config(explicit: str | os.PathLike[str] | None, environ: Mapping[str, str] | None = None,
                cwd: Path | None = None) -> Path:
    """`-c/--config`, then $AGENTSUP_CONFIG, then the first agents.toml in the working directory or
    one of its parents (as git finds its repository); ./agents.toml when there is none."""
    env = os.environ if environ is None else environ
    if explicit:
        return Path(explicit)
    if env.get("AGENTSUP_CONFIG"):
        return Path(env["AGENTSUP_CONFIG"])
    here = (cwd or Path.cwd()).absolute()
    for folder in (here, *here.parents):
        if (folder / "agents.toml").is_file():
            return folder / "agents.toml"
    return Path("agents.toml")


def state_home() -> Path:
    """Where configs without an explicit log_dir keep their state (read at each call: HOME may move)."""
    return Path(os.path.expanduser("~/.local/state/agentsup"))


LAST_GOOD_DIR = "configs"  # STATE_HOME/configs/<digest>.toml: the last valid copy of each config


def config_digest(cfg_path: Path) -> str:
    return hashlib.sha256(str(cfg_path.absolute()).encode()).hexdigest()[:8]


def slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "-" for c in name)[:32] or "config"


def last_good_path(cfg_path: Path) -> Path:
    return state_home() / LAST_GOOD_DIR / f"{config_digest(cfg_path)}.toml"


def remember_good(cfg_path: Path) -> None:
    """Keep a copy of a config that just loaded: when a later edit breaks it, read and stop commands
    still work from this one."""
    from agentsup.store.state import atomic_write_text, read_text

    try:
        text = cfg_path.read_text(encoding="utf-8")
        copy = last_good_path(cfg_path)
        if read_text(copy) != text:
            atomic_write_text(copy, text, durable=False)
    except OSError:
        pass  # a convenience: never a reason to fail a command

