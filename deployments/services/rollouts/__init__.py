"""Rollouts of releases onto the hosts, scaling, and the reconciler that repairs what drifted.

The entry points the rest of Berth calls are importable from here; the modules are, in the order a rollout meets them:
enqueue (queue and supersede), execution (the worker's run, step by step), plan (what runs where, the quota),
placement (which host), steps (what the coordinating thread does at each step), containers (engine work in pool
threads), progress (the recorded steps and their events), locks (one deployment of an app at a time, across workers),
recovery (a deployment whose worker died), reconcile (the desired state against the engines), repairs (an app short
of its formation brought back, with a crash loop's back-off).
"""

from deployments.services.rollouts.enqueue import app_teardown_enqueue, rollout_enqueue, scale_enqueue
from deployments.services.rollouts.execution import deployment_execute
from deployments.services.rollouts.reconcile import reconcile
from deployments.services.rollouts.recovery import deployment_recover

__all__ = [
    "app_teardown_enqueue",
    "deployment_execute",
    "deployment_recover",
    "reconcile",
    "rollout_enqueue",
    "scale_enqueue",
]
