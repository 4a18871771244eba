"""A run and what it leaves: its directory (the contract) and lock, resume, the checkpoint reader,
loggers, the devices and threads of a sweep's jobs, objectives and the sweep summary."""
