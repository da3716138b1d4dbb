"""Where leaving counts as dropping off, and where it means the journey is done.

A journey map runs past its goal: after the purchase come delivery, support and the
next visit, and a customer who buys and is never heard of again has not dropped off.
The **key transaction** (``key_transaction: true`` on a step) marks the goal; steps
before the last one are the funnel, where leaving is a loss. A map without a key
transaction ends its funnel at its last step.

>>> from journeymap.model import JourneyMap
>>> jmap = JourneyMap.model_validate({"id": "m", "title": "M", "stages": [
...     {"id": "s", "name": "S", "steps": [
...         {"id": "view", "name": "View"}, {"id": "buy", "name": "Buy", "key_transaction": True},
...         {"id": "deliver", "name": "Deliver"}]}]})
>>> list_drop_off_steps(jmap)
('view',)
"""

from __future__ import annotations

from journeymap.insights.evidence import Snapshot, StepMetrics
from journeymap.model import JourneyMap

__all__ = ["find_biggest_drop_off", "list_drop_off_steps"]


def list_drop_off_steps(jmap: JourneyMap) -> tuple[str, ...]:
    """The ids of the steps where a customer who goes no further has dropped off.

    Every step before the map's last key transaction; without a key transaction,
    every step but the last.
    """
    steps = [step for _, step in jmap.all_steps()]
    keys = [i for i, step in enumerate(steps) if step.key_transaction]
    end = keys[-1] if keys else len(steps) - 1
    return tuple(step.id for step in steps[:end])


def find_biggest_drop_off(
    jmap: JourneyMap, snapshot: Snapshot, *, min_decided: int = 30
) -> StepMetrics | None:
    """The funnel step that loses the largest share of the customers who reach it.

    Only steps where leaving is a loss count (:func:`list_drop_off_steps`), and only
    those where at least ``min_decided`` customers went on or left — unless none has
    that many. Ties go to the step that lost more customers.
    """
    funnel = set(list_drop_off_steps(jmap))
    known = [s for s in snapshot.steps if s.step_id in funnel and s.drop_off is not None]
    solid = [s for s in known if s.converted + s.dropped >= min_decided] or known
    return max(solid, key=lambda s: (s.drop_off or 0.0, s.dropped), default=None)
