"""``python -m core`` is the same as ``gloo-bots``."""

import sys

from core.cli import main

sys.exit(main())
