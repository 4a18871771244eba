"""Lightning callbacks (conf/callbacks/): checkpoints that are always whole and resumable, random states,
the console, progress lines, image grids, dashboards, and when a step may read device values."""
