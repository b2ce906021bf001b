"""`python -m pyhelper` is the `xp` command."""

import sys

from pyhelper.cli import main

sys.exit(main())
