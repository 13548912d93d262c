"""Allow ``python -m npdehw``."""

import sys

from npdehw.cli import main

sys.exit(main())
