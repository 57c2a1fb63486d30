"""python3 -m memcg_zombies: the command-line tool (memcg_zombies.cli)."""

import sys

from memcg_zombies.cli import main

sys.exit(main())
