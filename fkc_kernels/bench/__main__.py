"""``python -m fkc_kernels.bench``: see :mod:`fkc_kernels.bench.cli`."""

import sys

from .cli import main

sys.exit(main())
