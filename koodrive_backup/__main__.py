"""``python -m koodrive_backup``: the same command line as ``koodrive-backup``."""

import sys

from .cli import main

if __name__ == "__main__":
    sys.exit(main())
