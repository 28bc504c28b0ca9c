from fractions import Fraction

import pytest

import parallax
from parallax.caps import Caps
from parallax.errors import ElementNotFoundError
from parallax.pipeline import Element, Property


class Knobs(Element):
    factory_name = "knobs"
    count = Property(int, 3, "how many", minimum=0, maximum=10)
    live = Property(bool, False, "live?")
    rate = Property(Fraction, Fraction(30), "frames per second")
    mode = Property(str, "a", "mode", choices=("a", "b"))
    caps = Property(Caps, Caps.any(), "caps")


def test_defaults_and_string_conversion():
    knobs = Knobs()
    assert (knobs.count, knobs.live, knobs.rate, knobs.mode) == (3, False, Fraction(30), "a")
    knobs.set_property("count", "7")
    knobs.set_property("live", "TRUE")
    knobs.set_property("rate", "30000/1001")
    knobs.set_property("caps", "video/x-raw,width=4")
    assert (knobs.count, knobs.live, knobs.rate) == (7, True, Fraction(30000, 1001))
    assert knobs.caps.first().get("width") == 4
    assert knobs.get_property("count") == 7
    assert Knobs(count=2).count == 2


@pytest.mark.parametrize(
    ("name", "value", "match"),
    [
        ("count", "x", "expected an integer"),
        ("count", 11, "must be <= 10"),
        ("count", True, "expected an integer"),
        ("live", "maybe", "expected true or false"),
        ("rate", "1/0", "expected a fraction"),
        ("mode", "c", "expected one of a, b"),
        ("nothing", 1, "has no property 'nothing'; it has: count, live, rate, mode, caps"),
    ],
)
def test_bad_values_name_element_and_property(name, value, match):
    with pytest.raises(ValueError, match=match):
        Knobs(name="k").set_property(name, value)


def test_make_unknown_factory_lists_known_ones():
    with pytest.raises(
        ElementNotFoundError, match=r"known elements: .*appsink, appsrc, .*videotestsrc"
    ):
        parallax.make("v4l2srcc")


def test_every_factory_makes_an_element_with_documented_properties():
    from parallax.elements import FACTORIES, element_class

    for factory in FACTORIES:
        cls = element_class(factory)
        element = cls()
        assert element.factory_name == factory
        assert cls.description
        for prop in cls.properties().values():
            assert prop.doc, f"{factory}.{prop.name} has no doc"
