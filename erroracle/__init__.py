"""erroracle: a self-hosted, Ray-based platform that learns from software errors continuously."""

__version__ = "0.1.0"
__all__ = ["__version__"]
