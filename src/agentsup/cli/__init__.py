"""The `agentsup` command line: a thin Typer app that calls one core function per command and
renders its result as text or `--json`."""

from .app import main as main
from .app import run as run
