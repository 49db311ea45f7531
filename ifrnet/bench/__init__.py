"""The benchmark: the config (validated, typed), the path patterns, data sources and prepared
splits, the workflow's steps (tune, reconstruct, evaluate, apply), rendering of tables, figures
and the report, and the ``ifrnet`` command line the rules call. May import every layer."""
