"""Skip this package's doctests where the ``train`` extra (torch) is not installed."""

import importlib.util

collect_ignore_glob = [] if importlib.util.find_spec("torch") else ["*.py"]
