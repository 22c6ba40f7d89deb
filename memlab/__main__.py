"""``python -m memlab``: the same command line as the ``memlab`` console script."""

import sys

from memlab.cli import main

sys.exit(main())
