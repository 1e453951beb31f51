//! The one rounding primitive: exact integer division with a rounding mode.

use serde::{Deserialize, Serialize};

use super::MoneyError;

/// How to round a quotient that is not a whole number of minor units.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Rounding {
    /// To the nearest; exact halves go to the even neighbour (banker's rounding).
    HalfEven,
    /// To the nearest; exact halves go away from zero.
    HalfUp,
    /// Toward zero (truncation).
    Down,
    /// Away from zero.
    Up,
    /// Toward negative infinity.
    Floor,
    /// Toward positive infinity.
    Ceiling,
}

impl Rounding {
    /// Every mode, for exhaustive tests and option lists.
    pub const ALL: [Rounding; 6] =
        [Rounding::HalfEven, Rounding::HalfUp, Rounding::Down, Rounding::Up, Rounding::Floor, Rounding::Ceiling];
}

/// Divides `num` by `den` exactly, rounds the quotient by `mode`, and returns
/// it as an `i64`.
///
/// Errors: [`MoneyError::InvalidDenominator`] when `den == 0`,
/// [`MoneyError::Overflow`] when the rounded quotient does not fit in `i64`
/// (including `i128::MIN / -1`).
pub fn round_div(num: i128, den: i128, mode: Rounding) -> Result<i64, MoneyError> {
    if den == 0 {
        return Err(MoneyError::InvalidDenominator(den));
    }
    // Truncating division; `rem` has the sign of `num` and |rem| < |den|.
    // Only i128::MIN / -1 fails here, and its quotient would not fit i64 anyway.
    let quotient = num.checked_div(den).ok_or(MoneyError::Overflow)?;
    let rem = num.checked_rem(den).ok_or(MoneyError::Overflow)?;
    if rem == 0 {
        return i64::try_from(quotient).map_err(|_| MoneyError::Overflow);
    }
    // The exact quotient lies strictly between `quotient` and its neighbour
    // away from zero. `below` and `above` are the distances (in units of
    // 1/|den|) to each; comparing them decides the halves without computing
    // 2 * rem, which could overflow.
    let below = rem.unsigned_abs();
    let above = den.unsigned_abs() - below;
    let positive = (num > 0) == (den > 0);
    let away_from_zero = match mode {
        Rounding::Down => false,
        Rounding::Up => true,
        Rounding::Floor => !positive,
        Rounding::Ceiling => positive,
        Rounding::HalfUp => below >= above,
        Rounding::HalfEven => below > above || (below == above && quotient % 2 != 0),
    };
    let rounded = if away_from_zero {
        quotient.checked_add(if positive { 1 } else { -1 }).ok_or(MoneyError::Overflow)?
    } else {
        quotient
    };
    i64::try_from(rounded).map_err(|_| MoneyError::Overflow)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    use Rounding::*;

    /// An independent reference: floor division plus a decision table on
    /// twice the (non-negative) remainder.
    fn reference(num: i128, den: i128, mode: Rounding) -> i128 {
        let (num, den) = if den < 0 { (-num, -den) } else { (num, den) };
        let floor = num.div_euclid(den);
        let frac = num.rem_euclid(den);
        let ceil = if frac == 0 { floor } else { floor + 1 };
        let toward_zero = if num >= 0 { floor } else { ceil };
        let away = if num >= 0 { ceil } else { floor };
        match mode {
            Floor => floor,
            Ceiling => ceil,
            Down => toward_zero,
            Up => away,
            HalfUp | HalfEven => match (2 * frac).cmp(&den) {
                std::cmp::Ordering::Less => floor,
                std::cmp::Ordering::Greater => ceil,
                std::cmp::Ordering::Equal if mode == HalfUp => away,
                std::cmp::Ordering::Equal => {
                    if floor % 2 == 0 {
                        floor
                    } else {
                        ceil
                    }
                }
            },
        }
    }

    #[test]
    fn table_of_halves_and_thirds() {
        // (num, den, [HalfEven, HalfUp, Down, Up, Floor, Ceiling])
        let cases: &[(i128, i128, [i64; 6])] = &[
            (5, 2, [2, 3, 2, 3, 2, 3]),
            (7, 2, [4, 4, 3, 4, 3, 4]),
            (-5, 2, [-2, -3, -2, -3, -3, -2]),
            (-7, 2, [-4, -4, -3, -4, -4, -3]),
            (1, 3, [0, 0, 0, 1, 0, 1]),
            (2, 3, [1, 1, 0, 1, 0, 1]),
            (-1, 3, [0, 0, 0, -1, -1, 0]),
            (-2, 3, [-1, -1, 0, -1, -1, 0]),
            (6, 3, [2, 2, 2, 2, 2, 2]),
            (0, 7, [0, 0, 0, 0, 0, 0]),
            (5, -2, [-2, -3, -2, -3, -3, -2]),
            (-5, -2, [2, 3, 2, 3, 2, 3]),
            (1, 2, [0, 1, 0, 1, 0, 1]),
            (3, 2, [2, 2, 1, 2, 1, 2]),
            (-1, 2, [0, -1, 0, -1, -1, 0]),
        ];
        for &(num, den, expected) in cases {
            for (mode, want) in Rounding::ALL.iter().zip(expected) {
                assert_eq!(round_div(num, den, *mode), Ok(want), "{num}/{den} {mode:?}");
            }
        }
    }

    #[test]
    fn errors() {
        assert_eq!(round_div(1, 0, HalfEven), Err(MoneyError::InvalidDenominator(0)));
        assert_eq!(round_div(i128::from(i64::MAX) + 1, 1, Down), Err(MoneyError::Overflow));
        assert_eq!(round_div(i128::from(i64::MIN) - 1, 1, Down), Err(MoneyError::Overflow));
        assert_eq!(round_div(i128::from(i64::MIN), 1, Down), Ok(i64::MIN));
        assert_eq!(round_div(i128::from(i64::MAX) * 2 + 1, 2, Down), Ok(i64::MAX));
        assert_eq!(round_div(i128::from(i64::MAX) * 2 + 1, 2, Up), Err(MoneyError::Overflow));
        assert_eq!(round_div(i128::MIN, -1, Down), Err(MoneyError::Overflow));
        assert_eq!(round_div(i128::MAX, i128::MAX, HalfEven), Ok(1));
        assert_eq!(round_div(i128::MIN, i128::MIN, HalfEven), Ok(1));
        assert_eq!(round_div(i128::MAX, i128::MIN, Floor), Ok(-1));
        assert_eq!(round_div(i128::MAX, i128::MIN, Ceiling), Ok(0));
    }

    #[test]
    fn serde_names() {
        assert_eq!(serde_json::to_string(&HalfEven).unwrap(), "\"half_even\"");
        assert_eq!(serde_json::from_str::<Rounding>("\"ceiling\"").unwrap(), Ceiling);
    }

    fn any_mode() -> impl Strategy<Value = Rounding> {
        prop::sample::select(Rounding::ALL.to_vec())
    }

    proptest! {
        #[test]
        fn agrees_with_reference(
            num in -(1_i128 << 100)..(1_i128 << 100),
            den in prop_oneof![-1000_i128..1000, -(1_i128 << 90)..(1_i128 << 90)],
            mode in any_mode(),
        ) {
            prop_assume!(den != 0);
            let want = reference(num, den, mode);
            match round_div(num, den, mode) {
                Ok(got) => prop_assert_eq!(i128::from(got), want),
                Err(e) => {
                    prop_assert_eq!(e, MoneyError::Overflow);
                    prop_assert!(i64::try_from(want).is_err());
                }
            }
        }

        #[test]
        fn small_values_agree_with_reference(num in -10_000_i128..10_000, den in -50_i128..50, mode in any_mode()) {
            prop_assume!(den != 0);
            prop_assert_eq!(round_div(num, den, mode).map(i128::from), Ok(reference(num, den, mode)));
        }
    }
}
