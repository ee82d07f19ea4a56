//! The ordering every queue-holding policy uses for its held tasks: by a
//! key, then by arrival (so equal keys keep arrival order).

/// Implements `PartialEq`, `Eq`, `PartialOrd` and `Ord` for `$ty` by
/// `($key, seq)`: the named key field first, then the `seq` arrival counter.
macro_rules! ordered_by_key_then_arrival {
    ($ty:ty, $key:ident) => {
        impl PartialEq for $ty {
            fn eq(&self, o: &Self) -> bool {
                (self.$key, self.seq) == (o.$key, o.seq)
            }
        }
        impl Eq for $ty {}
        impl PartialOrd for $ty {
            fn partial_cmp(&self, o: &Self) -> Option<std::cmp::Ordering> {
                Some(self.cmp(o))
            }
        }
        impl Ord for $ty {
            fn cmp(&self, o: &Self) -> std::cmp::Ordering {
                (self.$key, self.seq).cmp(&(o.$key, o.seq))
            }
        }
    };
}

pub(crate) use ordered_by_key_then_arrival;
