"""The simulated agent TUI that the sim backend, the demo and the tests run."""
