//! Checked, signed accumulation of the per-customer contributions, so month
//! aggregates can be maintained by adding and subtracting customers.

use std::collections::BTreeMap;

use crate::MetricsError;

/// A value that can be added to another of its kind `sign` times (`+1` to
/// add a contribution, `-1` to take it back), with overflow as an error.
pub trait Additive {
    fn add_signed(&mut self, other: &Self, sign: i64) -> Result<(), MetricsError>;
}

pub(crate) fn add_i64(a: i64, b: i64) -> Result<i64, MetricsError> {
    a.checked_add(b).ok_or(MetricsError::Overflow)
}

pub(crate) fn sub_i64(a: i64, b: i64) -> Result<i64, MetricsError> {
    a.checked_sub(b).ok_or(MetricsError::Overflow)
}

impl Additive for i64 {
    fn add_signed(&mut self, other: &i64, sign: i64) -> Result<(), MetricsError> {
        *self = other.checked_mul(sign).and_then(|x| self.checked_add(x)).ok_or(MetricsError::Overflow)?;
        Ok(())
    }
}

/// Adds `v` to one key of a map, removing the key when its sum is zero.
pub(crate) fn add_to<K: Ord>(map: &mut BTreeMap<K, i64>, key: K, v: i64) -> Result<(), MetricsError> {
    use std::collections::btree_map::Entry;
    match map.entry(key) {
        Entry::Vacant(e) => {
            if v != 0 {
                e.insert(v);
            }
        }
        Entry::Occupied(mut e) => {
            let sum = add_i64(*e.get(), v)?;
            if sum == 0 {
                e.remove();
            } else {
                *e.get_mut() = sum;
            }
        }
    }
    Ok(())
}

/// Maps add key by key; keys whose sum is zero are removed, so a map that
/// has had a contribution added and taken back equals one that never had it.
impl<K: Ord + Clone> Additive for BTreeMap<K, i64> {
    fn add_signed(&mut self, other: &Self, sign: i64) -> Result<(), MetricsError> {
        for (k, v) in other {
            let slot = self.entry(k.clone()).or_insert(0);
            slot.add_signed(v, sign)?;
            if *slot == 0 {
                self.remove(k);
            }
        }
        Ok(())
    }
}

impl<T: Additive + Default> Additive for Vec<T> {
    /// Element-wise; missing elements count as zero (the shorter side is
    /// padded).
    fn add_signed(&mut self, other: &Self, sign: i64) -> Result<(), MetricsError> {
        if self.len() < other.len() {
            self.resize_with(other.len(), T::default);
        }
        for (a, b) in self.iter_mut().zip(other) {
            a.add_signed(b, sign)?;
        }
        Ok(())
    }
}

/// Implements [`Additive`] field by field for a struct of additive fields.
macro_rules! additive_struct {
    ($ty:ty { $($field:ident),* $(,)? }) => {
        impl $crate::sum::Additive for $ty {
            fn add_signed(&mut self, other: &Self, sign: i64) -> Result<(), $crate::MetricsError> {
                $( self.$field.add_signed(&other.$field, sign)?; )*
                Ok(())
            }
        }
    };
}
pub(crate) use additive_struct;
