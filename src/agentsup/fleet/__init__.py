"""Many hosts: fleet.toml lists them; the system's ssh reaches each host's own agentsup."""
