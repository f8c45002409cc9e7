"""billing service: plans, subscriptions, payments."""
