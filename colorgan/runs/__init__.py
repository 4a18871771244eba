"""A run and what it leaves: its directory and lock, resume, the checkpoint reader and atomic files,
loggers, devices and threads, the machine it ran on, and the sweep summary."""
