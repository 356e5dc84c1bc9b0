"""Telecenter: admin_web."""
