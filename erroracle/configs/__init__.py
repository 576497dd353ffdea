"""The bundled configuration files: the default platform config, the taxonomy and the Tune
search space (package data, read with :func:`erroracle.platform.config.bundled`)."""
