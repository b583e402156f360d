from tenants.tests.authz import authz_world  # noqa: F401 (a fixture, used by name)
