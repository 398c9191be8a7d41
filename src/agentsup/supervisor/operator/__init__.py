"""The operator's side: what each command asks for, as result objects (operate), status, doctor, usage."""
