"""Telecenter: dialplan."""
