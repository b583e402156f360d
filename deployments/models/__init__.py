"""Berth's deployment domain: apps, config, builds, releases, hosts, containers, rollouts, domains, GC, logs."""

from deployments.models.apps import App, ConfigVar, Formation, HealthcheckKind
from deployments.models.builds import Build, BuildStatus, SourceKind
from deployments.models.certificates import (
    AcmeAccount,
    AcmeChallenge,
    Certificate,
    CertificateSource,
    CertificateState,
    DefaultCertificate,
)
from deployments.models.clusters import Cluster
from deployments.models.hooks import Delivery, DeliveryStatus, Drain, Run, RunStatus, Webhook
from deployments.models.hosts import (
    LIVE_STATES,
    Container,
    ContainerState,
    DockerHost,
    HostHeartbeat,
    HostRouting,
    HostStatus,
)
from deployments.models.installation import Installation
from deployments.models.logs import LogCheckpoint, LogDrop, LogLine, LogSearch, LogSearchWatermark, LogSink, SinkKind
from deployments.models.metrics import ContainerEvent, ContainerEventKind, MetricSample, Resolution, Usage, UsageMark
from deployments.models.releases import Release, ReleaseStatus
from deployments.models.repairs import AppRepair, RepairState
from deployments.models.rollouts import Deployment, DeploymentKind, DeploymentStatus, Domain, GcRun
from deployments.models.routers import RouterNode, RouterSettings, RoutingChange, RoutingState
from deployments.models.stacks import Stack

__all__ = [
    "LIVE_STATES",
    "AcmeAccount",
    "AcmeChallenge",
    "App",
    "AppRepair",
    "Build",
    "BuildStatus",
    "Certificate",
    "CertificateSource",
    "CertificateState",
    "Cluster",
    "ConfigVar",
    "Container",
    "ContainerEvent",
    "ContainerEventKind",
    "ContainerState",
    "DefaultCertificate",
    "Delivery",
    "DeliveryStatus",
    "Deployment",
    "DeploymentKind",
    "DeploymentStatus",
    "DockerHost",
    "Domain",
    "Drain",
    "Formation",
    "GcRun",
    "HealthcheckKind",
    "HostHeartbeat",
    "HostRouting",
    "HostStatus",
    "Installation",
    "LogCheckpoint",
    "LogDrop",
    "LogLine",
    "LogSearch",
    "LogSearchWatermark",
    "LogSink",
    "MetricSample",
    "Release",
    "ReleaseStatus",
    "RepairState",
    "Resolution",
    "RouterNode",
    "RouterSettings",
    "RoutingChange",
    "RoutingState",
    "Run",
    "RunStatus",
    "SinkKind",
    "SourceKind",
    "Stack",
    "Usage",
    "UsageMark",
    "Webhook",
]
