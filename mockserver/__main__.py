"""``python -m mockserver``: the same entry point as the ``mockserver`` script."""

import sys

from mockserver.cli import main

sys.exit(main())
