"""Small-cell suppression: what de-identified viewers (researchers; for per-model live figures,
everyone but admins) get instead of a count under SMALL_CELL patients. A hidden count that could
be worked out from a total and the other parts hides one more figure beside it."""

from collections.abc import Hashable, Sequence

SMALL_CELL = 5
SUPPRESSED_NOTE = "Fewer than 5 patients: not shown (nor the next smallest figure beside it)."


# (parts, total, hide the total first): the parts add up to the total.
Sum = tuple[Sequence[Hashable], Hashable, bool]


def suppress_small_cells(
    values: dict[Hashable, int], sums: Sequence[Sum], *, minimum: int = SMALL_CELL
) -> dict[Hashable, int | None]:
    """`values` with every count from 1 to minimum - 1 replaced by None; then, while some sum
    in `sums` has exactly one hidden figure (which the others would give away), one more of
    its non-zero figures hidden: the smallest part (for a row or a series), or the total first
    when the sum says so (for the margins: an "All" row). Zeros stay shown."""
    hidden = {key for key, n in values.items() if 0 < n < minimum}
    changed = True
    while changed:
        changed = False
        for parts, total, total_first in sums:
            nonzero = [key for key in (*parts, total) if values.get(key, 0)]
            if sum(1 for key in nonzero if key in hidden) != 1:
                continue
            shown = [key for key in nonzero if key not in hidden]
            if not shown:
                continue
            shown.sort(key=lambda key: ((key == total) != total_first, values[key]))
            hidden.add(shown[0])
            changed = True
    return {key: (None if key in hidden else n) for key, n in values.items()}


def suppress_small(counts: Sequence[int | None]) -> tuple[list[int | None], bool]:
    """A list of counts that add up to a shown total: those below SMALL_CELL become None, and
    when exactly one is, the next smallest too. Returns (counts, whether any was hidden)."""
    values: dict[Hashable, int] = {i: c for i, c in enumerate(counts) if c is not None}
    values["total"] = sum(values.values())
    parts = [i for i, c in enumerate(counts) if c is not None]
    shown = suppress_small_cells(values, [(parts, "total", False)])
    out: list[int | None] = [shown[i] if c is not None else None for i, c in enumerate(counts)]
    return out, any(c is not None and 0 < c < SMALL_CELL for c in counts)
