"""The ops page at /ops: routes, its authorisation, its HTML, Dramatiq's dashboard."""
