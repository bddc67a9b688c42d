//! A vector that keeps its first `N` items on the stack.
//!
//! Canonicalisation and signing need a short list per call (the query's
//! parameters, a request's attributes); a typical URL has a dozen, and a heap
//! allocation per call is a measurable share of a ~1 µs verify.

pub(crate) struct InlineVec<T: Copy, const N: usize> {
    len: usize,
    inline: [T; N],
    spill: Vec<T>,
}

impl<T: Copy, const N: usize> InlineVec<T, N> {
    /// An empty vector; `fill` only initialises the unused stack slots.
    pub(crate) fn new(fill: T) -> Self {
        InlineVec {
            len: 0,
            inline: [fill; N],
            spill: Vec::new(),
        }
    }

    #[inline]
    pub(crate) fn push(&mut self, item: T) {
        if self.len < N {
            self.inline[self.len] = item;
        } else {
            if self.len == N {
                self.spill.reserve(2 * N);
                self.spill.extend_from_slice(&self.inline);
            }
            self.spill.push(item);
        }
        self.len += 1;
    }

    #[inline]
    pub(crate) fn as_slice(&self) -> &[T] {
        if self.len <= N {
            &self.inline[..self.len]
        } else {
            &self.spill
        }
    }

    #[inline]
    pub(crate) fn as_mut_slice(&mut self) -> &mut [T] {
        if self.len <= N {
            &mut self.inline[..self.len]
        } else {
            &mut self.spill
        }
    }
}

#[cfg(test)]
mod tests {
    use super::InlineVec;

    #[test]
    fn spills_to_the_heap_past_n_and_keeps_order() {
        let mut v: InlineVec<u32, 4> = InlineVec::new(0);
        for i in 0..10 {
            v.push(i);
            assert_eq!(v.as_slice(), (0..=i).collect::<Vec<_>>().as_slice());
        }
        v.as_mut_slice().reverse();
        assert_eq!(v.as_slice()[0], 9);
    }
}
