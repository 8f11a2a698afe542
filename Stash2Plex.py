#!/usr/bin/env python3
"""Stash2Plex: Stash starts this file for every hook and task (see Stash2Plex.yml).

Thin on purpose: everything lives in packages beside it (plugin/, tasks/, worker/ …).
"""

import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
if HERE not in sys.path:
    sys.path.insert(0, HERE)  # Stash starts us from its own working directory

from plugin.main import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:], script=os.path.abspath(__file__)))
