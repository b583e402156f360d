"""`git push` over smart HTTP: git's own `git http-backend` (backend.py) and its pre-receive hook (hooks/, receiver.py).

May import: services (gitrepos) and services/builds (push). The view that serves /git/<tenant>/<app>.git is
deployments/views/git.py.
"""
