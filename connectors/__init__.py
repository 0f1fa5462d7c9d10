"""connectors package (see DESIGN.md §3)."""
