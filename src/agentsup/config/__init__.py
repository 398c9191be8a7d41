"""agents.toml: its tables and schema, loading, discovery, templates and the key reference."""
