"""Records and notebook runs: archiving a run's record (`store`), running a runbook headless with papermill
(`headless`), and re-running the committed notebooks as living documentation (`living_docs`)."""
