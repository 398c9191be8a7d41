"""A config's last valid copy: what a command that reads or stops, and a running watchdog, fall
back to while agents.toml does not validate (an edit in progress, a bad save)."""

from __future__ import annotations

from pathlib import Path

from agentsup.config.files import last_good_path, remember_good
from agentsup.config.load import Config, load_config
from agentsup.errors import ConfigError
from agentsup.store.state import read_text


def load_last_good(cfg_path: Path, *, apply_overrides: bool = True) -> Config | None:
    """The config as it was when it last loaded, or None when there is no copy (or it fails too)."""
    text = read_text(last_good_path(cfg_path.expanduser().absolute()))
    if text is None:
        return None
    try:
        return load_config(cfg_path, text=text, apply_overrides=apply_overrides)
    except ConfigError:
        return None


def load_valid(cfg_path: Path, *, apply_overrides: bool = True) -> tuple[Config, str | None]:
    """The config, remembered as the last good copy; a file that stopped validating (an edit in
    progress, a bad save) gives its last good copy and the error. With no copy, the ConfigError."""
    try:
        cfg = load_config(cfg_path, apply_overrides=apply_overrides)
    except ConfigError as exc:
        good = load_last_good(cfg_path, apply_overrides=apply_overrides)
        if good is None:
            raise
        return good, str(exc)
    remember_good(cfg.path)
    return cfg, None
