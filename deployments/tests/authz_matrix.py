"""Authorization rows of the hosts, deployments and containers routes: (route, method, minimal scope, cross-tenant).

`staff` means only staff reach the route (a staff token also needs `read` for GET and `admin` otherwise).
"""

ROWS = [
    ("/api/v1/hosts/", "GET", "staff", "n/a"),
    ("/api/v1/hosts/", "POST", "staff", "n/a"),
    ("/api/v1/hosts/{name}/", "GET", "staff", "n/a"),
    ("/api/v1/hosts/{name}/", "PATCH", "staff", "n/a"),
    ("/api/v1/hosts/{name}/", "DELETE", "staff", "n/a"),
    ("/api/v1/tenants/{tenant}/apps/{app}/deployments/", "GET", "read", "404"),
    ("/api/v1/tenants/{tenant}/apps/{app}/deployments/{id}/", "GET", "read", "404"),
    ("/api/v1/tenants/{tenant}/apps/{app}/containers/", "GET", "read", "404"),
    ("/api/v1/tenants/{tenant}/apps/{app}/containers/{id}/restart/", "POST", "deploy", "404"),
    ("/ws/tenants/{tenant}/apps/{app}/deployments/{id}/", "WS", "read", "close 4404"),
]
