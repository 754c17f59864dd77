"""python -m fashion_core.readme_results: regenerate (or --check) the README's Results block from the reports."""
from __future__ import annotations

import argparse
import sys
from pathlib import Path

from fashion_core.io import write_text_atomic
from fashion_core.paths import repo_root
from fashion_core.reporting.readme import replace_block, results_markdown


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m fashion_core.readme_results", description=__doc__)
    parser.add_argument("--profile", default="default")
    parser.add_argument("--readme", default=None, help="README path (default: the checkout's README.md)")
    parser.add_argument("--check", action="store_true", help="exit 1 if the README's block is not up to date")
    args = parser.parse_args(argv)
    path = Path(args.readme) if args.readme else repo_root() / "README.md"
    readme = path.read_text(encoding="utf-8")
    updated = replace_block(readme, results_markdown(args.profile), str(path))
    if args.check:
        if updated != readme:
            print(f"{path}: the Results block differs from reports/{args.profile}; "
                  "run python -m fashion_core.readme_results", file=sys.stderr)
            return 1
        print(f"{path}: the Results block matches reports/{args.profile}")
        return 0
    if updated != readme:
        write_text_atomic(path, updated)
        print(f"{path}: Results block regenerated from reports/{args.profile}")
    else:
        print(f"{path}: Results block already up to date")
    return 0

