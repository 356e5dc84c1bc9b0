"""Configuration -> Asterisk files: names shared with the server, rendering, the private instance."""
