"""`python -m colorgan.report <run or sweep dirs>... [--sort mae] [--out DIR]` (see markdown.py)."""

import sys

from colorgan.report.write import main

sys.exit(main())
