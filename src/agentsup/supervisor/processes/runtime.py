"""The adapters one command works with: its config, its tmux server (or a seam standing in for
it), its state directory, and whoever journals what happens."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property
from typing import TYPE_CHECKING, Any

from agentsup.config.load import Config
from agentsup.store.state import StateDir, private_dir
from agentsup.tmux.client import Tmux, TmuxSeam

if TYPE_CHECKING:
    from agentsup.tmux.delivery import Deliverer


@dataclass
class Runtime:
    """The adapters one command works with."""

    cfg: Config
    tmux: TmuxSeam
    state: StateDir
    sleep: Callable[[float], None] = time.sleep
    on_event: Callable[..., Any] | None = None  # the watchdog's journal-and-notify; else the journal file

    def event(self, name: str, agent: str | None = None, **fields: Any) -> None:
        """Journal what happened (hooks, worktrees) through whoever owns the journal here."""
        if self.on_event is not None:
            self.on_event(name, agent, **fields)
            return

        self.cfg.journal().write(name, agent, **fields)

    @cached_property
    def deliverer(self) -> Deliverer:
        """Verified delivery over this runtime's tmux, with the config's retries."""
        from agentsup.tmux.delivery import Deliverer

        return Deliverer(self.tmux, self.state.delivery_lock, retries=self.cfg.watchdog.delivery_retries)


def make_runtime(cfg: Config, tmux: TmuxSeam | None = None) -> Runtime:
    """The adapters for `cfg`: its state directory and its tmux server (or the given seam)."""
    state = StateDir(cfg.state_dir)
    private_dir(cfg.log_dir)
    state.ensure()
    if tmux is None:
        tmux = Tmux(cfg.socket(), binary=cfg.tmux.bin, timeout=cfg.tmux.timeout,
                    server_pid_file=state.tmux_server_pid_file())
    return Runtime(cfg, tmux, state)
