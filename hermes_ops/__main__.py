"""`python -m hermes_ops`: the same as the `hermes-ops` command."""

from hermes_ops.cli import main

raise SystemExit(main())
