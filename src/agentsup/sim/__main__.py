"""`python -m agentsup.sim`: the path configs and tests name the sim program by."""

import sys

from agentsup.sim.agent import main

sys.exit(main())
