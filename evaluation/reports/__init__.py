"""Reports of finished runs: checked report data, Markdown, self-contained HTML, figures."""
