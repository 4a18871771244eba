"""What the tests share besides fixtures (those are in tests/conftest.py): the tiny configuration
and its composition (configs), synthetic data (data), a damaged checkpoint (damage), commands run as a user would (cli), DDP
probes for the ranks (ddp_probes) and a reader of W&B's offline files (wandb_records)."""
