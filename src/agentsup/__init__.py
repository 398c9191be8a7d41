"""agentsup: keep long-running AI coding agents working around the clock inside tmux."""

__version__ = "0.1.0"
