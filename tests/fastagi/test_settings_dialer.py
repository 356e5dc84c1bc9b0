"""The dialer's server settings read from the environment."""

from fastagi.settings import Settings


def test_the_dialer_runs_unless_switched_off_and_takes_its_lease_and_poll():
    default = Settings.from_env({})
    assert default.dialer_on and default.server_name == ""
    assert (default.dialer_lease_seconds, default.dialer_poll_seconds) == (60.0, 5.0)
    chosen = Settings.from_env({"TELECENTER_DIALER": "Off", "TELECENTER_SERVER_NAME": " a ",
                                "TELECENTER_DIALER_LEASE": "20",
                                "TELECENTER_DIALER_POLL": "0.5"})
    assert not chosen.dialer_on and chosen.server_name == "a"
    assert (chosen.dialer_lease_seconds, chosen.dialer_poll_seconds) == (20.0, 0.5)
