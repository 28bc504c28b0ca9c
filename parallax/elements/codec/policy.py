"""What an encoder does with a bad timestamp: ``timestamp-policy=strict|repair``.

An encoder needs strictly increasing PTS: libx264 only warns on a duplicate or a step back,
and the muxer then refuses the packet much later, far from the cause. So every encoder checks
the PTS of what it is about to encode, and applies an explicit policy: ``strict`` raises
`TimestampError` naming the buffer; ``repair`` nudges the PTS to one tick after the previous
one, flags the buffer ``RESYNC``, posts a WARNING on the bus and counts the repair. Nothing is
ever dropped silently.
"""

from __future__ import annotations

from parallax.errors import TimestampError
from parallax.pipeline.element import Element, Property
from parallax.time import SECOND, format_time

POLICIES = ("strict", "repair")


def timestamp_policy_property() -> Property[str]:
    """The ``timestamp-policy`` property every encoder declares."""
    return Property(
        str,
        "strict",
        "a missing, repeated or backward PTS: raise (strict) or nudge (repair)",
        choices=POLICIES,
    )


REPAIR_TICK = -(-SECOND // 90_000)
"""ns a repaired PTS lies after the previous one: one 90 kHz tick rounded up (11112 ns), the
coarsest time base our containers use, so the two stay distinct after the muxer rescales."""


class TimestampPolicy:
    """Checks the PTS sequence before an encoder and repairs or refuses bad ones.

    Parameters
    ----------
    element : Element
        The encoder (named in errors, posts the warnings).
    policy : str
        ``strict`` or ``repair``.

    Attributes
    ----------
    repairs : int
        Timestamps repaired so far.
    """

    def __init__(self, element: Element, policy: str) -> None:
        if policy not in POLICIES:
            raise ValueError(f"{element.name}: timestamp-policy must be one of {POLICIES}")
        self.element = element
        self.policy = policy
        self.repairs = 0
        self.last: int | None = None
        self.count = 0

    def check(self, pts: int | None, step: int | None = None) -> int:
        """Return the PTS to encode (ns, running time) for the next unit.

        Parameters
        ----------
        pts : int or None
            The unit's PTS, ns (None: missing).
        step : int or None
            ns from the previous unit (its duration) to stand in for a missing PTS.

        Raises
        ------
        TimestampError
            Under ``strict``: the PTS is missing, equal to or before the previous one.
        """
        index = self.count
        self.count += 1
        last = self.last
        if pts is not None and (last is None or pts > last):
            self.last = pts
            return pts
        if pts is None:
            problem = "has no PTS"
            repaired = 0 if last is None else last + (step or REPAIR_TICK)
        else:
            assert last is not None
            how = "repeats" if pts == last else "goes back from"
            problem = f"pts {format_time(pts)} {how} the previous pts {format_time(last)}"
            repaired = last + REPAIR_TICK
        where = f"{self.element.name}: buffer #{index}"
        if self.policy == "strict":
            raise TimestampError(
                f"{where} {problem}; timestamps must increase before an encoder. Fix the "
                f"source, or set timestamp-policy=repair to nudge such timestamps"
            )
        self.repairs += 1
        self.last = repaired
        self.element.post_warning(
            f"buffer #{index} {problem}: repaired to {format_time(repaired)} "
            f"({self.repairs} repairs so far)",
            pts=pts,
            repaired=repaired,
            repairs=self.repairs,
        )
        return repaired
