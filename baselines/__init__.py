"""Competing reconstruction methods, each behind the `ifrnet.methods.registry` method interface."""
