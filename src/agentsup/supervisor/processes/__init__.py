"""Programs in tmux: starting and stopping sessions, the launch wrapper, process trees, lifecycle hooks."""
