"""One report written twice: Markdown (for reading in a repository) and a self-contained HTML page
(figures embedded), built section by section through the same four calls."""
from __future__ import annotations

import base64
from html import escape
from pathlib import Path

from xlt.files import atomic_write_text
from xlt.report.tables import html_table, markdown_table

CSS = ("body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em}"
       "table{border-collapse:collapse;margin:1em 0;font-size:13px}td,th{border:1px solid #ccc;padding:3px 7px;text-align:right}"
       "td:first-child,th:first-child{text-align:left}.warn{background:#fff3cd;padding:.6em;border-left:4px solid #e0a800}"
       "img{max-width:100%}")


class Doc:
    def __init__(self, title: str):
        self.md = [f"# {title}"]
        self.html = [f"<h1>{escape(title)}</h1>"]

    def section(self, title: str) -> None:
        self.md.append(f"\n## {title}")
        self.html.append(f"<h2>{escape(title)}</h2>")

    def para(self, text: str, warn: bool = False) -> None:
        self.md.append(text + "\n")
        self.html.append(f"<p class='{'warn' if warn else ''}'>{escape(text)}</p>")

    def table(self, title: str, header: list[str], rows: list[list[str]]) -> None:
        self.md.extend([f"\n### {title}\n", markdown_table(header, rows) + "\n"])  # a blank line ends the table
        self.html.extend([f"<h3>{escape(title)}</h3>", html_table(header, rows)])

    def image(self, path: Path | None, caption: str) -> None:
        if path is None:
            return
        self.md.append(f"\n![{caption}]({path.parent.name}/{path.name})")
        data = base64.b64encode(path.read_bytes()).decode()
        self.html.append(f"<figure><img alt='{escape(caption)}' src='data:image/png;base64,{data}'>"
                         f"<figcaption>{escape(caption)}</figcaption></figure>")

    def write(self, run_dir: Path) -> tuple[Path, Path]:
        md_path, html_path = run_dir / "report.md", run_dir / "report.html"
        atomic_write_text(md_path, "\n".join(self.md) + "\n")
        atomic_write_text(html_path, "<!doctype html><html><head><meta charset='utf-8'><title>xlt report</title>"
                                     f"<style>{CSS}</style></head><body>{''.join(self.html)}</body></html>")
        return md_path, html_path
