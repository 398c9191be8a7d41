"""The pure decision: the per-agent state machine, usage-limit holds, their vocabulary, and the one clock."""
