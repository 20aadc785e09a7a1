"""``python -m evaluation`` runs the ``wsol-bench`` command."""

from evaluation.cli import main

raise SystemExit(main())
