"""A plain table of figures: benchmarks print, they never assert."""

from __future__ import annotations

from typing import List, Tuple


class Table:
    def __init__(self, title: str):
        self.title = title
        self.rows: List[Tuple[str, str, str]] = []

    def row(self, figure: str, value: str, target: str = "") -> None:
        self.rows.append((figure, value, target))
        print(f"  {figure}: {value}" + (f"   (target {target})" if target else ""), flush=True)

    def print(self) -> None:
        width = max((len(r[0]) for r in self.rows), default=10)
        print(f"\n## {self.title}")
        print(f"| {'figure'.ljust(width)} | value | target |")
        print(f"|{'-' * (width + 2)}|-------|--------|")
        for figure, value, target in self.rows:
            print(f"| {figure.ljust(width)} | {value} | {target} |")

    def markdown(self) -> str:
        lines = [f"## {self.title}", "", "| figure | value | target |", "|---|---|---|"]
        lines += [f"| {f} | {v} | {t} |" for f, v, t in self.rows]
        return "\n".join(lines) + "\n"
