"""The `agentsup` command line: a thin Typer app that calls one core function per command and
renders its result as text or `--json`."""

from .main import main as main
from .main import run as run
