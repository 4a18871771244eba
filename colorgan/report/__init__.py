"""`python -m colorgan.report <run or sweep dirs>`: compare finished runs (write.py, the command), in
report.md's text (markdown.py) with bootstrap statistics (stats.py), figures (figures.py) and the
model-vs-grayscale tables (tables.py)."""
