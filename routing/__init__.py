"""Card recognition (which program a code belongs to) and event routing (which connector gets what)."""
