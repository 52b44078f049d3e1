//! An order-statistic list of sequence numbers, for listing a page at any depth in
//! O(page · log n) while connections come and go.
//!
//! The sandbox's connections only ever arrive on top (a new connection is newer than every
//! other) and leave from anywhere. So a list is the sequence numbers it holds in ascending
//! order, appended at the end, with removals marked in place, plus a Fenwick tree of "still
//! here" counts over those slots: the k-th connection from the top is one descent of the tree,
//! an append or a removal one climb. Marked slots are dropped in one linear pass once they
//! outnumber the ones still listed, so the list stays within twice its length and the passes
//! cost O(1) per removal, amortized.

/// The high bit of a slot's sequence number: the connection left this list.
const GONE: u32 = 1 << 31;

/// The largest sequence number a list can hold: the other bits of a slot.
pub(crate) const MAX_SEQ: u32 = GONE - 1;

/// One slot: a sequence number (with [`GONE`]) and the Fenwick node of its position.
#[derive(Clone, Copy, Debug)]
struct Slot {
    seq: u32,
    /// Connections still listed among the slots this Fenwick node covers.
    count: u32,
}

/// Sequence numbers, listed from the highest (the newest connection) down.
#[derive(Clone, Debug, Default)]
pub(crate) struct Ranked {
    slots: Vec<Slot>,
    live: u32,
}

/// The lowest set bit of `i`: how many slots Fenwick node `i` (from 1) covers.
fn span(i: usize) -> usize {
    i & i.wrapping_neg()
}

impl Ranked {
    /// How many sequence numbers are listed.
    pub(crate) fn len(&self) -> usize {
        self.live as usize
    }

    /// Lists `seq`, which must be above every number listed before (the caller's sequence
    /// numbers only grow) and at most [`MAX_SEQ`].
    pub(crate) fn push(&mut self, seq: u32) {
        debug_assert!(seq <= MAX_SEQ);
        debug_assert!(self.slots.last().is_none_or(|s| s.seq & !GONE < seq));
        // Node n covers (n - span(n), n]: itself plus the nodes that cover the rest of it.
        let n = self.slots.len() + 1;
        let mut count = 1;
        let mut child = n - 1;
        while child > n - span(n) {
            count += self.slots[child - 1].count;
            child -= span(child);
        }
        self.slots.push(Slot { seq, count });
        self.live += 1;
    }

    /// Takes `seq` off the list; `false` if it was not listed.
    pub(crate) fn remove(&mut self, seq: u32) -> bool {
        let Ok(at) = self.slots.binary_search_by_key(&seq, |s| s.seq & !GONE) else {
            return false;
        };
        if self.slots[at].seq & GONE != 0 {
            return false;
        }
        self.slots[at].seq |= GONE;
        let mut node = at + 1;
        while node <= self.slots.len() {
            self.slots[node - 1].count -= 1;
            node += span(node);
        }
        self.live -= 1;
        if self.slots.len() - self.len() > self.len() {
            self.compact();
        }
        true
    }

    /// Drops the removed slots and rebuilds the tree in one pass.
    fn compact(&mut self) {
        self.slots.retain(|s| s.seq & GONE == 0);
        self.slots.iter_mut().for_each(|s| s.count = 1);
        for node in 1..=self.slots.len() {
            let parent = node + span(node);
            if parent <= self.slots.len() {
                self.slots[parent - 1].count += self.slots[node - 1].count;
            }
        }
        self.slots.shrink_to(self.slots.len() * 2);
    }

    /// The slot of the listed number with `k` listed numbers below it (`k` < [`len`](Self::len)):
    /// one descent of the tree.
    fn slot_of(&self, mut k: u32) -> usize {
        let mut at = 0;
        let mut step = self.slots.len().checked_ilog2().map_or(0, |b| 1 << b);
        while step > 0 {
            let next = at + step;
            if let Some(slot) = self.slots.get(next - 1)
                && slot.count <= k
            {
                at = next;
                k -= slot.count;
            }
            step >>= 1;
        }
        at
    }

    /// The listed numbers from the `skip`-th highest on, at most `take` of them, highest
    /// first: a page. The first costs a descent; each next one is usually the slot below,
    /// and another descent when that slot was removed.
    pub(crate) fn newest(&self, skip: usize, take: usize) -> Vec<u32> {
        let end = skip.saturating_add(take).min(self.len());
        let mut page = Vec::with_capacity(end.saturating_sub(skip));
        let mut previous: Option<usize> = None;
        for rank in skip..end {
            let below = previous
                .and_then(|p| p.checked_sub(1))
                .filter(|&b| self.slots[b].seq & GONE == 0);
            let at = match below {
                Some(b) => b,
                // `rank` < len, so this fits in u32 like len itself.
                None => self.slot_of(u32::try_from(self.len() - 1 - rank).unwrap_or(0)),
            };
            page.push(self.slots[at].seq);
            previous = Some(at);
        }
        page
    }

    /// The `rank`-th highest listed number (0 is the highest), if there are that many.
    pub(crate) fn nth_newest(&self, rank: usize) -> Option<u32> {
        self.newest(rank, 1).first().copied()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The oracle: a plain vector, highest first.
    fn brute(listed: &[u32], skip: usize, take: usize) -> Vec<u32> {
        listed.iter().rev().skip(skip).take(take).copied().collect()
    }

    #[test]
    fn pages_match_a_plain_list_through_appends_and_removals() {
        let mut ranked = Ranked::default();
        let mut listed: Vec<u32> = Vec::new();
        let mut next = 0u32;
        let mut state = 0x2545_f491_4f6c_dd1du64;
        let mut draw = |n: usize| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state % n.max(1) as u64) as usize
        };
        for round in 0..3000 {
            // Mostly appends early, mostly removals late, so compaction happens.
            if draw(3000) > round || listed.is_empty() {
                next += 1 + draw(3) as u32;
                ranked.push(next);
                listed.push(next);
            } else {
                let gone = listed.remove(draw(listed.len()));
                assert!(ranked.remove(gone));
                assert!(!ranked.remove(gone), "already gone");
            }
            assert_eq!(ranked.len(), listed.len());
            let (skip, take) = (draw(listed.len() + 2), 1 + draw(12));
            assert_eq!(ranked.newest(skip, take), brute(&listed, skip, take));
            if round % 97 == 0 {
                for skip in 0..=listed.len() {
                    assert_eq!(
                        ranked.nth_newest(skip),
                        brute(&listed, skip, 1).first().copied()
                    );
                }
            }
        }
        assert!(!ranked.remove(next + 1), "never listed");
        assert!(
            ranked.slots.len() <= 2 * ranked.len() + 1,
            "removed slots are dropped: {} slots for {}",
            ranked.slots.len(),
            ranked.len()
        );
    }

    #[test]
    fn an_emptied_list_keeps_no_slots() {
        let mut ranked = Ranked::default();
        for seq in [3, 9, 10] {
            ranked.push(seq);
        }
        for seq in [9, 3, 10] {
            assert!(ranked.remove(seq));
        }
        assert_eq!((ranked.len(), ranked.slots.len()), (0, 0));
        assert!(ranked.newest(0, 10).is_empty());
        assert_eq!(ranked.nth_newest(0), None);
    }
}
