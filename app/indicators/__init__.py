"""Indicators: what the money buys. Definitions, each action's baseline, targets and actuals,
the achievement they give, their roll-ups, and the values partners push."""
