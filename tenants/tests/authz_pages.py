"""Authorization rows of the pages outside tenants: home, login, logout, and Django's admin under the staff console.

The format is defined in tenants/tests/authz.py (pages: run_row(row, world, page=True)); the customer pages of a
tenant are in deployments/tests/authz_pages.py, and deployments/tests/views/test_authorization_matrix.py runs both
and fails on a page route no row calls.
"""

import re

from tenants.tests.authz import ADMITTED, LOGIN, Row, console_rule, page_routes, public_rule, session_rule

ROWS = [
    Row("GET", "/", session_rule()),
    Row("GET", "/login/", public_rule()),
    # An empty form: the page again with its errors, for anyone.
    Row("POST", "/login/", public_rule()),
    Row("PUT", "/login/", public_rule()),
    # Logging out works signed in or not, and lands on the login page.
    Row("POST", "/logout/", public_rule(LOGIN)),
    # Django's admin keeps its own gate (staff, then the model permissions the world's staff user lacks).
    Row("GET", "/console/admin/login/", public_rule(staff=302)),
    Row("POST", "/console/admin/login/", public_rule()),
    # The admin's gate sends whoever may not log out of it to its index (and from there to its login page); staff
    # log out (by POST only) and land on the portal's login page.
    Row("GET", "/console/admin/logout/", public_rule(302, staff=405)),
    Row("POST", "/console/admin/logout/", public_rule(302, staff=LOGIN)),
]

ADMIN = "console/admin/"
_OWN_ROWS = {(row.method, row.url) for row in ROWS}


def _concrete(route: str) -> str:
    """A URL the admin's route pattern matches: path converters and regex groups filled with a sample value."""
    url = re.sub(r"\(\?P<url>[^)]*\)", "no-such-page/", route)
    url = re.sub(r"\(\?P<\w+>([\w-]+)[^)]*\)", r"\1", url)
    url = re.sub(r"<(?:\w+:)?(\w+)>", "1", url)
    return "/" + url.replace("^", "").replace("$", "")


# Every other admin route, generated from the resolver: staff pass the admin's gate, anyone else signs in first.
ROWS += [
    Row(method, _concrete(route), console_rule(ADMITTED), name="admin")
    for route, methods in sorted(page_routes().items())
    if route.startswith(ADMIN)
    for method in sorted(methods)
    if (method, _concrete(route)) not in _OWN_ROWS
]
