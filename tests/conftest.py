"""Shared fixtures: every test works in a temporary folder on tiny synthetic data."""
