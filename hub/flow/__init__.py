"""The guest flow: scan → PIN → discount → receipt → events."""
