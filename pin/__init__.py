"""pin package (see DESIGN.md §3)."""
