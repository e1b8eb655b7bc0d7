"""`python -m benchmark.leaderboard ...` (the same as `python -m benchmark leaderboard ...`)."""

import sys

from benchmark.leaderboard.cli import main

sys.exit(main())
