"""Draw a pipeline: Graphviz ``dot`` source, SVG (when ``dot`` is installed), plain text.

Each element shows its name, factory and the properties set on it; each link shows the
negotiated format (after PAUSED) or the caps both sides allow (before); the graph's title
names the pipeline clock and which element provides it.
"""

from __future__ import annotations

import shutil
import subprocess
from typing import TYPE_CHECKING

from parallax.caps import Caps

if TYPE_CHECKING:
    from parallax.pipeline.element import Element, Pad
    from parallax.pipeline.graph import Pipeline

DOT_TIMEOUT = 10.0
"""Seconds ``dot`` may take to lay a graph out."""


def _quote(*lines: str) -> str:
    """A dot string literal of ``lines``, one per line of the label."""
    escaped = (line.replace("\\", "\\\\").replace('"', '\\"') for line in lines)
    return '"' + "\\n".join(escaped) + '"'


def _properties(element: Element) -> list[str]:
    known = element.properties()
    shown = []
    for prop in known.values():
        if prop.attr in element._properties:
            value = getattr(element, prop.attr)
            shown.append(f"{prop.name}={str(value).lower() if isinstance(value, bool) else value}")
    return shown


def _top_level_fields(caps: str) -> list[str]:
    """Split a caps string at the commas outside ``{...}`` lists."""
    fields, depth, start = [], 0, 0
    for index, char in enumerate(caps):
        depth += {"{": 1, "}": -1}.get(char, 0)
        if char == "," and depth == 0:
            fields.append(caps[start:index].strip())
            start = index + 1
    fields.append(caps[start:].strip())
    return fields


def _link_caps(src: Pad) -> str:
    """The negotiated format of a link, or what both ends allow before negotiation."""
    if src.format is not None:
        return str(src.format)
    assert src.peer is not None
    allowed: Caps = src.element.src_caps(src).intersect(src.peer.element.sink_caps(src.peer))
    return f"{allowed} (not negotiated)"


def clock_text(pipeline: Pipeline) -> str:
    """``clock: NAME, provided by ELEMENT`` (or why there is none yet)."""
    clock = pipeline.clock
    if clock is None:
        return "clock: chosen at PLAYING"
    provider = pipeline.clock_provider
    by = f"provided by {provider.name}" if provider is not None else "system fallback"
    if pipeline.clock_forced:
        by = "set by use_clock()"
    return f"clock: {clock.name} ({by})"


def to_dot(pipeline: Pipeline) -> str:
    """Graphviz ``dot`` source of ``pipeline`` (elements, negotiated caps, the clock)."""
    provider = pipeline.clock_provider
    lines = [
        f"digraph {_quote(pipeline.name)} {{",
        "  rankdir=LR;",
        f"  label={_quote(f'{pipeline.name} ({pipeline.state.name}), {clock_text(pipeline)}')};",
        "  labelloc=t;",
        '  node [shape=box, style="rounded", fontname="monospace", fontsize=10];',
        '  edge [fontname="monospace", fontsize=9];',
    ]
    ids = {element: f"e{n}" for n, element in enumerate(pipeline.elements)}
    for element, node in ids.items():
        label = _quote(
            element.name,
            f"({element.factory_name or type(element).__name__})",
            *_properties(element),
            *(["provides the pipeline clock"] if element is provider else []),
        )
        extra = ", penwidth=2.5" if element is provider else ""
        lines.append(f"  {node} [label={label}{extra}];")
    for element, node in ids.items():
        for src in element.src_pads:
            if src.peer is not None and src.peer.element in ids:
                # one caps field per line keeps the drawing narrow
                fields = _top_level_fields(_link_caps(src))
                label = _quote(*(f"{f}," for f in fields[:-1]), fields[-1])
                lines.append(f"  {node} -> {ids[src.peer.element]} [label={label}];")
    lines.append("}")
    return "\n".join(lines) + "\n"


def to_svg(pipeline: Pipeline) -> str | None:
    """SVG drawn by Graphviz ``dot``; None when ``dot`` is not installed or fails."""
    dot = shutil.which("dot")
    if dot is None:
        return None
    try:
        result = subprocess.run(
            [dot, "-Tsvg"],
            input=to_dot(pipeline),
            capture_output=True,
            text=True,
            timeout=DOT_TIMEOUT,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return result.stdout if result.returncode == 0 and "<svg" in result.stdout else None


def to_text(pipeline: Pipeline) -> str:
    """Plain text: one line per link (``a (factory) --[caps]--> b (factory)``) and the clock."""
    lines = [f"{pipeline.name} ({pipeline.state.name}), {clock_text(pipeline)}"]
    for element in pipeline.elements:
        name = f"{element.name} ({element.factory_name or type(element).__name__})"
        linked = [pad for pad in element.src_pads if pad.peer is not None]
        if not linked and not element.sink_pads:
            lines.append(f"  {name}")
        for src in linked:
            assert src.peer is not None
            peer = src.peer.element
            target = f"{peer.name} ({peer.factory_name or type(peer).__name__})"
            lines.append(f"  {name} --[{_link_caps(src)}]--> {target}")
    return "\n".join(lines)
