"""Rendering of results files into tables (CSV, Markdown, LaTeX) and figures."""
