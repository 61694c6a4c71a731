"""``python -m datatrust.cli``: the command (workers are started this way)."""

import sys

from datatrust.cli import main

sys.exit(main())
