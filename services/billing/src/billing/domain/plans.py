"""The plans a user can be on: what each allows per week and what it costs."""

from __future__ import annotations

from dataclasses import dataclass

from contracts.events import PlanName
from servicekit.domain import DomainError


class UnknownPlan(DomainError):
    status = 422
    code = "unknown_plan"
    title = "Unknown plan"


class PlanNotPurchasable(DomainError):
    status = 422
    code = "plan_not_purchasable"
    title = "Plan cannot be bought"


@dataclass(frozen=True)
class Plan:
    name: PlanName
    weekly_limit: int
    monthly_price: int
    """Minor units (cents); 0 for the free plan."""
    currency: str
    stripe_price: str | None = None

    @property
    def purchasable(self) -> bool:
        return self.monthly_price > 0

    def public(self) -> dict[str, object]:
        return {
            "name": self.name,
            "weekly_limit": self.weekly_limit,
            "monthly_price": self.monthly_price,
            "currency": self.currency,
        }


@dataclass(frozen=True)
class Catalog:
    free: Plan
    premium: Plan

    def get(self, name: str) -> Plan:
        if name == "free":
            return self.free
        if name == "premium":
            return self.premium
        raise UnknownPlan(f"There is no plan {name[:40]!r}; choose 'free' or 'premium'.")

    def weekly_limit(self, name: PlanName) -> int:
        return self.get(name).weekly_limit

    def all(self) -> list[Plan]:
        return [self.free, self.premium]
