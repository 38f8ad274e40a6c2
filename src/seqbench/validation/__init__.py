"""Data validation: Great Expectations suites defined in code, one per dataset kind."""
