"""How many zeros kprune puts in a kernel at a given sparsity: the one definition every tool checks against.

Standard library only, so that a benchmark that keeps its own process small can import it too.
"""

import decimal


def target_zeros(sparsity, size):
    """round_half_away_from_zero(sparsity * size), computed exactly (sparsity as written in decimal)."""
    exact = decimal.Decimal(str(sparsity)) * size
    return int(exact.quantize(decimal.Decimal(1), rounding=decimal.ROUND_HALF_UP))
