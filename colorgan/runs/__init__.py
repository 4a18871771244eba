"""A run and what it leaves: its directory (the contract) and lock, resume, the checkpoint reader,
loggers, each sweep job's device slot (a GPU, or its share of the cores through system.threads),
objectives and the sweep summary."""
