"""`python -m oracle_cache ...` (see oracle_cache.cli)."""

import sys

from oracle_cache.cli import main

sys.exit(main())
