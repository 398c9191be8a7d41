"""Keeping agents running: launch, process trees, the reconcile tick, policy, the watchdog."""
