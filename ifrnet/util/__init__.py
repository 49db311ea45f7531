"""Foundation layer: atomic files and file formats, user-facing file reading, progress output,
device checks. Imports nothing else of the project (tests/test_layering.py)."""
