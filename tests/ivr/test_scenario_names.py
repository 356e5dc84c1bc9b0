"""One list of scenario names: what Apply accepts is what the engine runs and the admin offers."""

from admin_web.menu_pages import SCENARIO_TITLES
from dialplan.configuration import SCENARIO_NAMES
from ivr.scenarios import SCENARIOS


def test_the_engine_runs_every_scenario_apply_accepts_and_no_other():
    assert tuple(SCENARIOS) == SCENARIO_NAMES


def test_the_admin_offers_every_scenario_by_a_title():
    assert tuple(SCENARIO_TITLES) == SCENARIO_NAMES
