"""`python -m colorgan.pretrained pack CHECKPOINT [--out DIR]` and `... verify [--dir DIR]`."""

import sys

from colorgan.pretrained.pack import main

sys.exit(main())
