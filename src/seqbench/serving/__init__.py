"""MLflow model registry: pyfunc models with their preprocessing, versions, champion promotion."""
