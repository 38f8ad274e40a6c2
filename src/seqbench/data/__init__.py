"""Datasets: fetching, parsing, splitting, tokenization, windowing and data modules."""
