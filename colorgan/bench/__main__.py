"""`python -m colorgan.bench [overrides] [--experiments ...]` (see compare.py)."""

from colorgan.bench.compare import main
from colorgan.errors import exit_on_user_error

exit_on_user_error(main)
