"""The agent CLIs: backend presets, screen detection, reset times, claude's signals, usage."""
