"""Tables of the bench and the audit: printed with rich, written as Markdown into bench/RESULTS.md."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path

from rich.console import Console
from rich.table import Table


@dataclass
class Section:
    title: str
    columns: list[str]
    rows: list[list[str]] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def rich(self) -> Table:
        table = Table(title=self.title, title_justify="left")
        for col in self.columns:
            table.add_column(col, overflow="fold")
        for row in self.rows:
            table.add_row(*[str(c) for c in row])
        return table

    def markdown(self) -> str:
        def cell(value: object) -> str:
            return str(value).replace("|", "\\|").replace("\n", " ")

        lines = [f"### {self.title}", ""]
        if self.rows:
            lines.append("| " + " | ".join(self.columns) + " |")
            lines.append("|" + "|".join("---" for _ in self.columns) + "|")
            lines += ["| " + " | ".join(cell(c) for c in row) + " |" for row in self.rows]
            lines.append("")
        lines += [f"- {note}" for note in self.notes]
        if self.notes:
            lines.append("")
        return "\n".join(lines)


def show(console: Console, sections: list[Section]) -> None:
    for section in sections:
        console.print(section.rich())
        for note in section.notes:
            console.print(f"  - {note}", highlight=False)


def mb(kb_or_bytes: float, *, kb: bool = True) -> str:
    return f"{kb_or_bytes / 1024:.0f}" if kb else f"{kb_or_bytes / 1048576:.0f}"


def write(path: Path, part: str, header: str, sections: list[Section], verdicts: list[str]) -> None:
    """Replace this part's block (bench or audit) in the results file, keeping the other one."""
    start, end = f"<!-- {part}:start -->", f"<!-- {part}:end -->"
    body = "\n".join([start, header, "", "#### Targets", "", *[f"- {v}" for v in verdicts], ""])
    body += "\n" + "\n".join(s.markdown() for s in sections) + "\n" + end
    text = path.read_text(encoding="utf-8") if path.is_file() else ""
    if not text:
        text = (
            "# chaton bench and audit results\n\n"
            "Written by `make bench` (`chaton bench`) and `make audit` (`chaton bench audit`); the raw figures of "
            "the last run are in `.cache/bench/state.json`. How to read and reproduce them: bench/README.md.\n\n"
            "<!-- bench:start -->\n<!-- bench:end -->\n\n<!-- audit:start -->\n<!-- audit:end -->\n"
        )
    pattern = re.compile(re.escape(start) + r".*?" + re.escape(end), re.S)
    text = pattern.sub(lambda _m: body, text) if pattern.search(text) else text.rstrip() + "\n\n" + body + "\n"
    path.write_text(text, encoding="utf-8")
