"""Ray Serve: the HTTP API (FastAPI ingress) and the model deployment behind it."""
