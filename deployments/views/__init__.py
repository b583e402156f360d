"""Web UI of the deployment domain: tenant, app and log pages for customers."""
