"""The web process: waitress serving the Bottle app with the settings' limits."""
import waitress

import logs
import settings
from api import app


def main() -> None:
    logs.configure("web")
    waitress.serve(
        app, host=settings.WEB_HOST, port=settings.WEB_PORT, threads=settings.WEB_THREADS,
        # waitress's default of 100 connections stalls any load above it.
        connection_limit=settings.WEB_CONNECTION_LIMIT,
        # Our own 413 (problem+json) answers bodies over MAX_BODY_BYTES; waitress only
        # guards against absurd ones before the app sees them.
        max_request_body_size=16 * 1024 * 1024,
        channel_timeout=60, ident="wallet")


if __name__ == "__main__":
    main()
