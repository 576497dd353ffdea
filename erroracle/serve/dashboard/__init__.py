"""The web dashboard: server-rendered pages (Jinja2, plain forms) served by the ingress."""
