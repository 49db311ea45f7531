"""Trainable reconstruction networks."""
