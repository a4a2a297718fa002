"""The human-readable API page: Redoc over /openapi.json, with its script served from
the openapi-ui-bundles package, so the page works with no internet."""
from openapi_ui_bundles import redoc

SCRIPT_NAME = "redoc.standalone.js"
ASSETS_DIR = str(redoc.static_path)

PAGE = f"""<!doctype html>
<html lang="en">
<head>
  <meta charset="utf-8">
  <title>Wallet service API</title>
  <meta name="viewport" content="width=device-width, initial-scale=1">
  <style>body {{ margin: 0; padding: 0; }}</style>
</head>
<body>
  <redoc spec-url="/openapi.json" hide-download-button="false"></redoc>
  <script src="/docs/{SCRIPT_NAME}"></script>
</body>
</html>
"""
