"""The HTTP routes, one module per resource; each parses, calls one function, renders."""
