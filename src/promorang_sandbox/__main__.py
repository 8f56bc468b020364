"""``python -m promorang_sandbox``: the same as the ``promorang-sandbox`` command."""

from __future__ import annotations

import sys

from .cli import main

sys.exit(main())
