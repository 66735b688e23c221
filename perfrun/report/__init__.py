"""Reports: the report model (built once by perfrun.judge), its JSON codec, atomic files,
the wording renderers share, and the renderers (console, live progress, HTML, JUnit,
Markdown)."""
