"""An action's financing plan (its costs, who pays which share, what is secured) and the
financing cube."""
