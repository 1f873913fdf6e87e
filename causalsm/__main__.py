"""``python -m causalsm``: the ``causalsm`` command (see :mod:`causalsm.cli`)."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
