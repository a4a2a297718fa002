"""HTTP edge helpers: problem responses, strict JSON bodies, cursors, request ids."""
