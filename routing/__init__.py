"""routing package (see DESIGN.md §3)."""
