"""Competing reconstruction methods, each behind the `ifrnet.registry` method interface."""
