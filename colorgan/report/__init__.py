"""`python -m colorgan.report <run or sweep dirs>`: compare finished runs (markdown.py), with bootstrap
statistics (stats.py), figures (figures.py) and the model-vs-grayscale tables (tables.py)."""
