"""VISITROOM_* variables are read as their settings' types, and a wrong one is named."""

from __future__ import annotations

from pathlib import Path

import pytest

from server.runtime.config import ConfigError, config_from_env


def test_variables_are_read_as_their_settings_types():
    config = config_from_env({"VISITROOM_PORT": " 9000 ", "VISITROOM_ICE_LOOPBACK": "yes",
                              "VISITROOM_DB": "var/other.db", "VISITROOM_ISSUER": "clinic"})
    assert config.port == 9000 and config.ice_loopback is True
    assert config.db == Path("var/other.db") and config.issuer == "clinic"
    assert config_from_env({"VISITROOM_ICE_LOOPBACK": "off"}).ice_loopback is False


def test_flags_win_over_variables():
    assert config_from_env({"VISITROOM_PORT": "9000"}, port=9100).port == 9100


@pytest.mark.parametrize("name, value, phrase", [
    ("VISITROOM_PORT", "nine", "VISITROOM_PORT must be a whole number"),
    ("VISITROOM_PORT", "80.5", "VISITROOM_PORT must be a whole number"),
    ("VISITROOM_HEARTBEAT_SECONDS", "true", "VISITROOM_HEARTBEAT_SECONDS must be a whole number"),
    ("VISITROOM_ICE_LOOPBACK", "maybe", "VISITROOM_ICE_LOOPBACK must be true or false"),
])
def test_a_variable_of_the_wrong_kind_is_refused_by_name(name, value, phrase):
    with pytest.raises(ConfigError) as refused:
        config_from_env({name: value})
    assert phrase in str(refused.value)
