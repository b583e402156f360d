"""Turning untrusted sources (archives, git repositories) into safe build contexts."""
