"""The AGI wire: protocol parsing, per-call sessions, the server, routes, AMI, and the `telecenter` command."""
