from fractions import Fraction

import pytest

from parallax import NegotiationError
from parallax.caps import AudioFormat, Caps, Structure, VideoFormat, fixate, parse_structure


def test_parse_and_print_round_trip():
    caps = Caps.parse("video/x-raw,width=640,height=480,framerate=30000/1001,format={RGB,BGR}")
    structure = caps.first()
    assert structure.get("width") == 640
    assert structure.get("framerate") == Fraction(30000, 1001)
    assert structure.get("format") == ("RGB", "BGR")
    assert Caps.parse(str(caps)) == caps


def test_intersection_keeps_common_choices_in_own_order():
    ours = Caps.of("video/x-raw", format=("RGB", "BGR", "GRAY8"))
    theirs = Caps.parse("video/x-raw,format={GRAY8,RGB},width=320")
    common = ours.intersect(theirs).first()
    assert common.get("format") == ("RGB", "GRAY8")
    assert common.get("width") == 320
    assert ours.intersect(Caps.parse("audio/x-raw")).is_empty
    assert Caps.any().intersect(theirs) == theirs
    assert ours.intersect(Caps.parse("video/x-raw,format=I420")).is_empty


def test_fixate_prefers_allowed_values():
    structure = Structure("audio/x-raw", {"rate": (44100, 48000), "channels": 2})
    fixed = fixate(structure, {"rate": 48000, "channels": 1, "format": "S16LE"})
    assert fixed.fields == {"rate": 48000, "channels": 2, "format": "S16LE"}
    assert fixate(structure, {}).get("rate") == 44100


def test_formats_from_structures():
    video = VideoFormat.from_structure(
        parse_structure("video/x-raw,format=BGRx,width=8,height=6,framerate=25/1")
    )
    assert video == VideoFormat(8, 6, "BGRx", Fraction(25))
    assert video.frame_duration == 40_000_000
    assert video.frame_pts(3) == 120_000_000
    ntsc = VideoFormat(8, 6, "RGB", Fraction(30000, 1001))
    assert ntsc.frame_pts(30000) == 1001 * 10**9  # exact after 1000 s of NTSC frames
    audio = AudioFormat.from_structure(
        parse_structure("audio/x-raw,format=F32LE,rate=8000,channels=1")
    )
    assert audio.dtype == "<f4"
    with pytest.raises(NegotiationError, match="missing width"):
        VideoFormat.from_structure(parse_structure("video/x-raw,height=4,format=RGB"))


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("video", "bad media type"),
        ("video/x-raw,width", "position 12"),
        ("video/x-raw,framerate=30/0", "zero denominator"),
    ],
)
def test_bad_caps_strings(text, match):
    with pytest.raises(ValueError, match=match):
        Caps.parse(text)
