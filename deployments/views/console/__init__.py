"""The staff console (/console/): the fleet, tenants, hosts, deployments, builds and the audit trail across tenants.

Staff only: anyone signed in without staff rights gets 404, an anonymous caller the login page; the pages take no
API token. Every action posts to the service the API calls, which writes the audit event naming the staff member;
destructive ones go through a confirmation page first (confirm.html, or the tenant's slug typed).
"""
