"""The watchdog process: its loop, following agents.toml, its heartbeat, file watching."""
