"""Make the corpus the port trains on: pytorch/examples ships Wikitext-2's validation and
test files but not its training file, so this splits the 124 articles of those two files
into ``data/wikitext-2-small/{train,valid,test}.txt`` at article boundaries (a line
``" = Title = "``): train = the validation file and the first half of the test file's
articles, valid = the next quarter, test = the last quarter. No article is in two splits.

    python split_data.py && python main.py --data ./data/wikitext-2-small

(graphgrad's own script; the port's other files are pytorch/examples' programs.)
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

HERE = Path(__file__).resolve().parent
HEADING = re.compile(r"^ = [^=].* = $")  # a top-level article title (sections have "= =")


def articles(path: Path) -> list[list[str]]:
    """The file's lines grouped by article (each group starts at its title line)."""
    groups: list[list[str]] = []
    with open(path, encoding="utf8") as f:
        for line in f:
            if HEADING.match(line.rstrip("\n")) or not groups:
                groups.append([])
            groups[-1].append(line)
    return groups


def split(source: Path, target: Path) -> dict[str, int]:
    """Write the three splits into ``target``; returns each split's article count."""
    valid, test = articles(source / "valid.txt"), articles(source / "test.txt")
    half, three_quarters = len(test) // 2, 3 * len(test) // 4
    parts = {
        "train": valid + test[:half],
        "valid": test[half:three_quarters],
        "test": test[three_quarters:],
    }
    target.mkdir(parents=True, exist_ok=True)
    for name, groups in parts.items():
        (target / f"{name}.txt").write_text(
            "".join(line for g in groups for line in g), encoding="utf8"
        )
    return {name: len(groups) for name, groups in parts.items()}


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=HERE / "data" / "wikitext-2")
    parser.add_argument("--target", type=Path, default=HERE / "data" / "wikitext-2-small")
    args = parser.parse_args()
    counts = split(args.source, args.target)
    print(f"wrote {args.target}: " + ", ".join(f"{k} {v} articles" for k, v in counts.items()))
