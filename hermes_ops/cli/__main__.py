"""`python -m hermes_ops.cli`: the same as the `hermes-ops` command."""

import sys

from hermes_ops.cli.main import main

sys.exit(main())
