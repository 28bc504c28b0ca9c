"""The clocked pipeline: elements, graph, executor, bus."""

from parallax.pipeline.aggregator import Aggregator
from parallax.pipeline.bus import Bus, Message, MessageType
from parallax.pipeline.context import ProduceContext
from parallax.pipeline.element import Element, Pad, Property, Sink, Source, Transform
from parallax.pipeline.graph import Pipeline, State
from parallax.pipeline.parse import parse_launch

__all__ = [
    "Aggregator",
    "Bus",
    "Element",
    "Message",
    "MessageType",
    "Pad",
    "Pipeline",
    "ProduceContext",
    "Property",
    "Sink",
    "Source",
    "State",
    "Transform",
    "parse_launch",
]
