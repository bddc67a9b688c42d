//! In-place sorting for the canonicaliser and the signer: insertion sort
//! for short slices (a URL's dozen parameters), heapsort beyond.
//!
//! Why not `sort_unstable_by`: each instance of the standard library's
//! sort adds several KB to the WebAssembly package, which has a 40 KB
//! budget, and this crate needs three. Heapsort keeps the worst case at
//! O(n log n) for hostile URLs with thousands of parameters.

/// Sorts `v` by `less` (a strict weak order). Not stable.
pub(crate) fn sort_by<T: Copy>(v: &mut [T], less: impl Fn(&T, &T) -> bool) {
    if v.len() <= 20 {
        insertion(v, &less);
    } else {
        heap(v, &less);
    }
}

fn insertion<T: Copy>(v: &mut [T], less: &impl Fn(&T, &T) -> bool) {
    for k in 1..v.len() {
        let item = v[k];
        let mut j = k;
        while j > 0 && less(&item, &v[j - 1]) {
            v[j] = v[j - 1];
            j -= 1;
        }
        v[j] = item;
    }
}

fn heap<T: Copy>(v: &mut [T], less: &impl Fn(&T, &T) -> bool) {
    let sift_down = |v: &mut [T], mut node: usize, end: usize| loop {
        let mut child = 2 * node + 1;
        if child >= end {
            break;
        }
        if child + 1 < end && less(&v[child], &v[child + 1]) {
            child += 1;
        }
        if !less(&v[node], &v[child]) {
            break;
        }
        v.swap(node, child);
        node = child;
    };
    for node in (0..v.len() / 2).rev() {
        sift_down(v, node, v.len());
    }
    for end in (1..v.len()).rev() {
        v.swap(0, end);
        sift_down(v, 0, end);
    }
}

#[cfg(test)]
mod tests {
    use super::sort_by;

    #[test]
    fn sorts_short_and_long_slices_like_the_standard_library() {
        let mut seed = 0x9E37_79B9_7F4A_7C15u64;
        for len in [0, 1, 2, 3, 19, 20, 21, 64, 1000] {
            let mut v: Vec<u32> = (0..len)
                .map(|_| {
                    seed ^= seed << 13;
                    seed ^= seed >> 7;
                    seed ^= seed << 17;
                    (seed % 50) as u32
                })
                .collect();
            let mut want = v.clone();
            want.sort_unstable();
            sort_by(&mut v, |a, b| a < b);
            assert_eq!(v, want, "len {len}");
        }
    }
}
