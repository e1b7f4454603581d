"""Entry point: ``python -m b12brain.train --out DIR --steps N --pool P --seed S``."""

from b12brain.train.cli import main

raise SystemExit(main())
