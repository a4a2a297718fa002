"""The OpenAPI documents: the public one (/openapi.json) and the operators' one
(/ops/openapi.json), built from the shared parts in `parts`."""
