"""Live views over WebSockets: the one sync-to-channel-layer publisher, the consumers, and their routing list."""
