"""HTTP controllers of the hub's API v1."""
