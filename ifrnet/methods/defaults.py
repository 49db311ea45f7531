"""Library defaults that several layers share, in a module without dependencies (the ``ifrnet``
command imports it to print its help before numpy or torch are importable)."""

#: Images per call of a network when a caller does not say: the library's one default, equal to
#: the config's ``batch_size`` default in config/schema.yaml (tests/test_config.py checks it).
INFERENCE_BATCH = 4
