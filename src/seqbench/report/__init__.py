"""The comparison report: tables with mean ± std, paired significance tests, latency, figures."""
