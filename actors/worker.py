"""Imported by the `dramatiq` CLI in each worker process (see the Procfile): JSON logs.

The web process imports `actors` too (to send messages), so logging is configured here
and not in the package itself.
"""
import logs

logs.configure("worker")
