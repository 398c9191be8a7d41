"""The tmux seam: libtmux's server with timeouts, the pane snapshot, and delivery into panes."""
