"""Where the noise contract's ``(S, O)`` come from (defined with the contract, in reference/)."""

from ..reference.philox import draw_philox_seeds, draw_uniform

__all__ = ["draw_philox_seeds", "draw_uniform"]
