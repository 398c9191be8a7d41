"""The records' owner and one reconcile tick: records, messages typed into agents, what a tick sees,
notices, and the build loop's driver."""
