"""What happens on a call: one module per FastAGI route, plus the call's record."""
