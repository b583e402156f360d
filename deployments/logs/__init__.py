"""Log collection: a collector per Docker host, the sinks it writes to, and the live WebSocket tail."""
