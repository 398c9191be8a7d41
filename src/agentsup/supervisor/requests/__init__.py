"""What the CLI asks the records' owner: the request protocol, its handlers, and the control channel."""
