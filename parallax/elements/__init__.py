"""The element factories: names (as in gst-launch) to classes, imported on first use."""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

from parallax.errors import ElementNotFoundError

if TYPE_CHECKING:  # the pipeline package imports this module to parse descriptions
    from parallax.pipeline.element import Element

# factory name -> "module:Class". Device and codec elements import heavy or optional
# libraries, so nothing is imported until an element is made.
FACTORIES: dict[str, str] = {
    "aacenc": "parallax.elements.codec.aacenc:AacEnc",
    "alsasink": "parallax.elements.device.alsasink:AlsaSink",
    "alsasrc": "parallax.elements.device.alsasrc:AlsaSrc",
    "appsink": "parallax.elements.app.appsink:AppSink",
    "appsrc": "parallax.elements.app.appsrc:AppSrc",
    "audioconvert": "parallax.elements.transform.audioconvert:AudioConvert",
    "audioresample": "parallax.elements.transform.audioresample:AudioResample",
    "audiotestsrc": "parallax.elements.test.audiotestsrc:AudioTestSrc",
    "capsfilter": "parallax.elements.core.capsfilter:CapsFilter",
    "fakesink": "parallax.elements.core.fakesink:FakeSink",
    "filesink": "parallax.elements.sink.filesink:FileSink",
    "h264enc": "parallax.elements.codec.h264enc:H264Enc",
    "identity": "parallax.elements.core.identity:Identity",
    "mp4mux": "parallax.elements.mux.mp4mux:Mp4Mux",
    "mpegtsmux": "parallax.elements.mux.mpegtsmux:MpegTsMux",
    "pipewiresrc": "parallax.elements.device.pipewiresrc:PipeWireSrc",
    "queue": "parallax.elements.core.queue:Queue",
    "screencapturesrc": "parallax.elements.device.screencapturesrc:ScreenCaptureSrc",
    "timestampdebug": "parallax.elements.debug.timestampdebug:TimestampDebug",
    "v4l2src": "parallax.elements.device.v4l2src:V4l2Src",
    "videoconvert": "parallax.elements.transform.videoconvert:VideoConvert",
    "videotestsrc": "parallax.elements.test.videotestsrc:VideoTestSrc",
}


def element_class(factory: str) -> type[Element]:
    """Return the element class of a factory name.

    Raises
    ------
    ElementNotFoundError
        No such factory (the message lists the known ones).
    """
    path = FACTORIES.get(factory)
    if path is None:
        raise ElementNotFoundError(
            f"no element {factory!r}; known elements: {', '.join(sorted(FACTORIES))}"
        )
    module, _, name = path.partition(":")
    cls: type[Element] = getattr(importlib.import_module(module), name)
    return cls


def make(factory: str, name: str | None = None, **properties: Any) -> Element:
    """Make an element by factory name: ``make("videotestsrc", name="src", is_live=True)``.

    Property names use underscores for the dashes of gst-launch (``is-live`` -> ``is_live``).
    """
    return element_class(factory)(name, **properties)
