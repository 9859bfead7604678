"""HTTP layer: parse the request, call services, render."""
