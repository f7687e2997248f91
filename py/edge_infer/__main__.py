"""``python -m edge_infer``: the command-line interface."""

from edge_infer.cli import main

raise SystemExit(main())
