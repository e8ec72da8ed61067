"""CSV imports of people: mapping, row checks, set-based writes, jobs (docs/imports.md)."""
