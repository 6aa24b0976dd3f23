"""``python -m photosim`` runs the command line."""

import sys

from photosim.cli import main

sys.exit(main())
