"""The web admin (Flask): users and roles now, configuration sections as they arrive."""
