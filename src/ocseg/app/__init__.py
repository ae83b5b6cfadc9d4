"""The command-line application: the seven ``ocseg-*`` tools (:mod:`~ocseg.app.cli`), their
``--help`` (:mod:`~ocseg.app.tool_help`), the console's logging set-up
(:mod:`~ocseg.app.console`) and the sweep summary callback (:mod:`~ocseg.app.sweep_summary`).
Nothing below this layer imports it (``[tool.importlinter]`` in ``pyproject.toml``)."""
