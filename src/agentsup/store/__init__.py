"""The state directory's one map: records, the journal, request files, locks, logs."""
