"""A tiny domain used only to exercise the kit: a tally that can be incremented."""

from __future__ import annotations

from contracts import DomainEvent
from contracts.events import event
from servicekit.eventstore import Aggregate


@event
class KitTallyIncremented(DomainEvent):
    amount: int
    poison: bool = False


class Tally(Aggregate):
    aggregate_type = "kit-tally"

    def __init__(self, aggregate_id: str) -> None:
        super().__init__(aggregate_id)
        self.total = 0

    def increment(self, amount: int, poison: bool = False) -> None:
        if amount <= 0:
            raise ValueError("amount must be positive")
        self.record(KitTallyIncremented(amount=amount, poison=poison))

    def when(self, e: DomainEvent) -> None:
        if isinstance(e, KitTallyIncremented):
            self.total += e.amount
