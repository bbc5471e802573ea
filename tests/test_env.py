"""Settings read from the environment: a value that cannot mean what its name says
stops the start with a message naming it, instead of quietly becoming the default."""

import pytest
from django.core.exceptions import ImproperlyConfigured

from core.env import env_bool, env_choice, env_float, env_int


@pytest.mark.parametrize(
    ("value", "expected"), [("1", True), ("TRUE", True), ("on", True), ("no", False), ("0", False)]
)
def test_booleans(monkeypatch, value, expected):
    monkeypatch.setenv("STREAMCAT_FLAG", value)
    assert env_bool("STREAMCAT_FLAG", not expected) is expected


@pytest.mark.parametrize("value", ["maybe", "2", "tru", "enabled"])
def test_a_boolean_that_is_neither_stops_the_start(monkeypatch, value):
    monkeypatch.setenv("STREAMCAT_FLAG", value)
    with pytest.raises(ImproperlyConfigured, match="STREAMCAT_FLAG"):
        env_bool("STREAMCAT_FLAG", False)


@pytest.mark.parametrize("value", ["lots", "nan", "inf", "1,5"])
def test_a_fraction_that_is_not_a_number_stops_the_start(monkeypatch, value):
    monkeypatch.setenv("STREAMCAT_TRANSCODE_CPU_BUDGET", value)
    with pytest.raises(ImproperlyConfigured, match="STREAMCAT_TRANSCODE_CPU_BUDGET"):
        env_float("STREAMCAT_TRANSCODE_CPU_BUDGET", 1.0)


def test_fractions_and_choices(monkeypatch):
    monkeypatch.setenv("STREAMCAT_TRANSCODE_CPU_BUDGET", " 1.5 ")
    assert env_float("STREAMCAT_TRANSCODE_CPU_BUDGET", 1.0) == 1.5
    monkeypatch.setenv("STREAMCAT_TRANSCODE_ENCODER", "h264_nvenc")
    assert env_choice("STREAMCAT_TRANSCODE_ENCODER", "libx264", ("libx264", "h264_nvenc")) == "h264_nvenc"
    monkeypatch.setenv("STREAMCAT_TRANSCODE_ENCODER", "gpu please")
    with pytest.raises(ImproperlyConfigured, match="STREAMCAT_TRANSCODE_ENCODER='gpu please': use one of"):
        env_choice("STREAMCAT_TRANSCODE_ENCODER", "libx264", ("libx264", "h264_nvenc"))


def test_numbers(monkeypatch):
    monkeypatch.setenv("STREAMCAT_PORT", " 8080 ")
    assert env_int("STREAMCAT_PORT", 1) == 8080
    monkeypatch.setenv("STREAMCAT_PORT", "")
    assert env_int("STREAMCAT_PORT", 1) == 1
    monkeypatch.setenv("STREAMCAT_PORT", "80x")
    with pytest.raises(ImproperlyConfigured, match="STREAMCAT_PORT='80x' is not a whole number"):
        env_int("STREAMCAT_PORT", 1)
