/**
 * Co-movement for the threshold tuner: per (day, source) cell, the calls billable at each candidate and the booked
 * jobs, and the Pearson correlation between the two across cells (threshold-tuner.ts states the rule and the memory
 * bound). Memory O(cells × candidates), bounded by maxCells; the correlations cost the same after the pass,
 * independent of the number of calls.
 */

const round = (x: number, places: number) => Math.round(x * 10 ** places) / 10 ** places;

/**
 * The co-movement cells: publisherId → sub-source → day → [bucket counts 0..K, booked jobs at K+1]. Past maxCells
 * every cell is dropped and none is tracked any more, so memory stays bounded.
 */
export interface CoMovementCells {
  /** The (day, source) cell, made when new; undefined once cells are no longer tracked. */
  cellAt(publisherId: string, subSource: string | null, day: number): Int32Array | undefined;
  readonly tracking: boolean;
  /** Cells seen, counted up to maxCells + 1. */
  readonly count: number;
  all(): Iterable<Int32Array>;
}

export function createCoMovementCells(K: number, maxCells: number): CoMovementCells {
  const cells = new Map<string, Map<string | null, Map<number, Int32Array>>>();
  let cellCount = 0;
  let trackCells = true;
  // The last cell is cached: reads come grouped by source and day.
  let lastPub: string | undefined;
  let lastSub: string | null | undefined;
  let lastDays: Map<number, Int32Array> | undefined;
  let lastDay = Number.NaN;
  let lastCell: Int32Array | undefined;
  return {
    cellAt(publisherId, subSource, day) {
      if (!trackCells) return lastCell;
      if (publisherId !== lastPub || subSource !== lastSub || lastDays === undefined) {
        let subs = cells.get(publisherId);
        if (subs === undefined) cells.set(publisherId, (subs = new Map()));
        let days = subs.get(subSource);
        if (days === undefined) subs.set(subSource, (days = new Map()));
        lastPub = publisherId;
        lastSub = subSource;
        lastDays = days;
        lastDay = Number.NaN;
      }
      if (day !== lastDay || lastCell === undefined) {
        let cell = lastDays!.get(day);
        if (cell === undefined) {
          cellCount += 1;
          if (cellCount > maxCells) {
            trackCells = false;
            cells.clear();
            lastDays = lastCell = undefined;
          } else lastDays!.set(day, (cell = new Int32Array(K + 2)));
        }
        lastDay = day;
        lastCell = cell;
      }
      return lastCell;
    },
    get tracking() {
      return trackCells;
    },
    get count() {
      return cellCount;
    },
    *all() {
      for (const subs of cells.values()) for (const days of subs.values()) yield* days.values();
    },
  };
}

/** Co-movement sums per candidate k over the cells: Σx, Σx², Σxy (x = billable at k, y = booked), Σy, Σy². */
export interface CoMovementSums {
  readonly n: number;
  readonly sx: Float64Array;
  readonly sxx: Float64Array;
  readonly sxy: Float64Array;
  readonly sy: number;
  readonly varY: number;
}

export function coMovementSums(cells: CoMovementCells, K: number): CoMovementSums {
  const sx = new Float64Array(K);
  const sxx = new Float64Array(K);
  const sxy = new Float64Array(K);
  let sy = 0;
  let syy = 0;
  for (const cell of cells.all()) {
    const y = cell[K + 1]!;
    sy += y;
    syy += y * y;
    let x = 0;
    for (let j = K; j >= 1; j--) {
      x += cell[j]!;
      const k = j - 1;
      sx[k]! += x;
      sxx[k]! += x * x;
      sxy[k]! += x * y;
    }
  }
  const n = cells.tracking ? cells.count : 0;
  return { n, sx, sxx, sxy, sy, varY: n * syy - sy * sy };
}

export function pearsonAt(m: CoMovementSums, k: number): number | null {
  if (m.n < 3) return null;
  const varX = m.n * m.sxx[k]! - m.sx[k]! * m.sx[k]!;
  if (varX <= 0 || m.varY <= 0) return null;
  return round((m.n * m.sxy[k]! - m.sx[k]! * m.sy) / Math.sqrt(varX * m.varY), 4);
}
