"""Colour hints around the hint model (docs/hints.md): the page's hint section (page.py) and
`python -m colorgan.hints`, which measures a hint model against the number of hints it is given
(measure.py). The hints themselves (Hint, parsing, the hint map) are colorgan.inference.hints."""
