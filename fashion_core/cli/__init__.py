"""Command-line entry points; `python -m fashion_core.train`, `.run` and `.readme_results` call them."""
