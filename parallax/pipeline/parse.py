"""`parse_launch`: build a pipeline from a gst-launch description.

Grammar (as gst-launch-1.0's, the parts we use)::

    description := chain (chain)*
    chain       := node ("!" node)*
    node        := FACTORY (NAME=VALUE)* | CAPS | REF
    CAPS        := media/type(,field=value)*       e.g. video/x-raw,width=640
    REF         := NAME.  or  NAME.PAD             an element named elsewhere (branches, muxers)

A chain ends where a node is not followed by ``!``; the next node starts a new chain.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from parallax.elements import element_class
from parallax.errors import ElementNotFoundError, LinkError, ParseError
from parallax.pipeline.element import Element
from parallax.pipeline.graph import Pipeline

_TOKEN = re.compile(r"""\s*(!|(?:[^\s!"']|"[^"]*"|'[^']*')+)""")
_REF = re.compile(r"^([A-Za-z_][\w-]*)\.([\w%-]*)$")
_PROPERTY = re.compile(r"^([A-Za-z][\w-]*)=(.*)$", re.S)


@dataclass
class _Ref:
    name: str
    pad: str | None
    position: int


def _tokens(description: str) -> list[tuple[str, int]]:
    tokens: list[tuple[str, int]] = []
    position = 0
    while position < len(description):
        match = _TOKEN.match(description, position)
        if match is None:
            if description[position:].strip():
                raise ParseError(description, position, "unterminated quote")
            break
        text, start = match.group(1), match.start(1)
        # Caps written with spaces after commas: "video/x-raw, width=640" is one token.
        if tokens and tokens[-1][0].endswith(",") and tokens[-1][0] != "!":
            previous, previous_start = tokens.pop()
            text, start = previous + text, previous_start
        tokens.append((text, start))
        position = match.end()
    return tokens


def _unquote(value: str) -> str:
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        return value[1:-1]
    return value


def parse_launch(description: str, name: str = "pipeline") -> Pipeline:
    """Build a pipeline from gst-launch syntax.

    Examples
    --------
    >>> p = parse_launch("videotestsrc num-buffers=30 ! video/x-raw,width=640 ! fakesink")
    >>> p = parse_launch("videotestsrc ! mux.  audiotestsrc ! mux.  mp4mux name=mux")

    Raises
    ------
    ParseError
        Unknown element or property, bad value, bad caps, dangling ``!``, unknown reference;
        the message shows the position in the description.
    """
    pipeline = Pipeline(name)
    nodes: list[tuple[Element | _Ref, int]] = []
    links: list[tuple[Element | _Ref, Element | _Ref, int]] = []
    current: Element | _Ref | None = None
    linking_from: Element | _Ref | None = None
    link_position = 0
    from parallax.elements.core.capsfilter import CapsFilter

    for text, position in _tokens(description):
        if text == "!":
            if linking_from is not None:
                raise ParseError(description, position, "two '!' in a row")
            if current is None:
                raise ParseError(description, position, "'!' with nothing before it")
            linking_from, link_position = current, position
            current = None
            continue
        prop = _PROPERTY.match(text)
        if prop is not None and "/" not in prop.group(1) and current is not None:
            if not isinstance(current, Element):
                raise ParseError(description, position, "a reference takes no properties")
            key, value = prop.group(1), _unquote(prop.group(2))
            try:
                if key == "name":
                    current.name = value
                else:
                    current.set_property(key, value)
            except ValueError as error:
                raise ParseError(description, position, str(error)) from None
            continue
        node: Element | _Ref
        ref = _REF.match(text)
        if ref is not None:
            node = _Ref(ref.group(1), ref.group(2) or None, position)
        elif "/" in text.split(",", 1)[0]:
            try:
                node = CapsFilter(caps=_unquote(text))
            except ValueError as error:
                raise ParseError(description, position, f"bad caps: {error}") from None
        else:
            try:
                node = element_class(text)()
            except ElementNotFoundError as error:
                raise ParseError(description, position, str(error)) from None
        nodes.append((node, position))
        if linking_from is not None:
            links.append((linking_from, node, link_position))
            linking_from = None
        current = node
    if linking_from is not None:
        raise ParseError(description, link_position, "'!' with nothing after it")

    for node, position in nodes:
        if isinstance(node, Element):
            try:
                pipeline.add(node)
            except LinkError as error:
                raise ParseError(description, position, str(error)) from None

    def resolve(node: Element | _Ref) -> Element:
        if isinstance(node, Element):
            return node
        try:
            return pipeline.get(node.name)
        except KeyError:
            raise ParseError(
                description, node.position, f"no element named {node.name!r} to refer to"
            ) from None

    for upstream, downstream, position in links:
        pad = downstream.pad if isinstance(downstream, _Ref) else None
        try:
            pipeline.link_pads(resolve(upstream), resolve(downstream), pad)
        except ParseError:
            raise
        except (LinkError, ValueError) as error:
            raise ParseError(description, position, str(error)) from error
    return pipeline
