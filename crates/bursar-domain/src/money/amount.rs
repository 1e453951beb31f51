//! `Money`: an integer count of minor units in one currency.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{round_div, Currency, MoneyError, Rounding};

/// The largest absolute amount, in minor units, accepted from any input
/// (parsing, deserialization, [`Money::try_new`]). Keeping inputs below this
/// leaves head-room so sums of many inputs stay far from `i64` overflow, and
/// makes every input negatable.
pub const MAX_AMOUNT_MINOR: i64 = 999_999_999_999_999;

/// The most parts [`Money::split_even`] makes: the result is a vector of that
/// many amounts, so an unbounded count would be an unbounded allocation.
pub const MAX_SPLIT_PARTS: usize = 1_000_000;

/// An amount of money: `amount_minor` minor units (cents, yen, fils …) of
/// `currency`.
///
/// Serializes as `{"amount_minor": 1234, "currency": "USD"}`. Deserialization
/// rejects amounts whose absolute value exceeds [`MAX_AMOUNT_MINOR`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "RawMoney")]
pub struct Money {
    /// The amount as a count of the currency's minor units.
    pub amount_minor: i64,
    /// The currency of the amount.
    pub currency: Currency,
}

/// The unchecked wire shape of [`Money`], validated by `TryFrom`.
#[derive(Deserialize)]
struct RawMoney {
    amount_minor: i64,
    currency: Currency,
}

impl TryFrom<RawMoney> for Money {
    type Error = MoneyError;

    fn try_from(raw: RawMoney) -> Result<Self, Self::Error> {
        Money::try_new(raw.amount_minor, raw.currency)
    }
}

impl Money {
    /// An amount of `amount_minor` minor units. Any `i64` is representable;
    /// use [`Money::try_new`] for amounts that come from outside.
    pub fn new(amount_minor: i64, currency: Currency) -> Money {
        Money { amount_minor, currency }
    }

    /// Like [`Money::new`], but rejects amounts whose absolute value exceeds
    /// [`MAX_AMOUNT_MINOR`] with [`MoneyError::OutOfRange`].
    pub fn try_new(amount_minor: i64, currency: Currency) -> Result<Money, MoneyError> {
        if amount_minor.unsigned_abs() > MAX_AMOUNT_MINOR.unsigned_abs() {
            return Err(MoneyError::OutOfRange);
        }
        Ok(Money { amount_minor, currency })
    }

    /// Zero in `currency`.
    pub fn zero(currency: Currency) -> Money {
        Money { amount_minor: 0, currency }
    }

    /// Whether the amount is exactly zero.
    pub fn is_zero(self) -> bool {
        self.amount_minor == 0
    }

    /// Whether the amount is below zero.
    pub fn is_negative(self) -> bool {
        self.amount_minor < 0
    }

    /// Whether the amount is above zero.
    pub fn is_positive(self) -> bool {
        self.amount_minor > 0
    }

    fn same_currency(self, other: Money) -> Result<(), MoneyError> {
        if self.currency == other.currency {
            Ok(())
        } else {
            Err(MoneyError::CurrencyMismatch { left: self.currency, right: other.currency })
        }
    }

    /// `self + other`; errors on a currency mismatch or `i64` overflow.
    pub fn checked_add(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let sum = self.amount_minor.checked_add(other.amount_minor).ok_or(MoneyError::Overflow)?;
        Ok(Money::new(sum, self.currency))
    }

    /// `self - other`; errors on a currency mismatch or `i64` overflow.
    pub fn checked_sub(self, other: Money) -> Result<Money, MoneyError> {
        self.same_currency(other)?;
        let diff = self.amount_minor.checked_sub(other.amount_minor).ok_or(MoneyError::Overflow)?;
        Ok(Money::new(diff, self.currency))
    }

    /// `-self`; errors only for `i64::MIN`.
    pub fn checked_neg(self) -> Result<Money, MoneyError> {
        let neg = self.amount_minor.checked_neg().ok_or(MoneyError::Overflow)?;
        Ok(Money::new(neg, self.currency))
    }

    /// The absolute value; errors only for `i64::MIN`.
    pub fn checked_abs(self) -> Result<Money, MoneyError> {
        let abs = self.amount_minor.checked_abs().ok_or(MoneyError::Overflow)?;
        Ok(Money::new(abs, self.currency))
    }

    /// `self * n`; errors on `i64` overflow.
    pub fn checked_mul(self, n: i64) -> Result<Money, MoneyError> {
        let product = self.amount_minor.checked_mul(n).ok_or(MoneyError::Overflow)?;
        Ok(Money::new(product, self.currency))
    }

    /// Sums amounts of one currency; an empty input is zero in `currency`.
    pub fn checked_sum<I: IntoIterator<Item = Money>>(currency: Currency, items: I) -> Result<Money, MoneyError> {
        items.into_iter().try_fold(Money::zero(currency), Money::checked_add)
    }

    /// `self * num / den`, computed exactly in `i128` and rounded once by
    /// `mode`. `den` must be positive ([`MoneyError::InvalidDenominator`]).
    pub fn mul_ratio(self, num: i64, den: i64, mode: Rounding) -> Result<Money, MoneyError> {
        if den <= 0 {
            return Err(MoneyError::InvalidDenominator(i128::from(den)));
        }
        let product = i128::from(self.amount_minor) * i128::from(num);
        let amount = round_div(product, i128::from(den), mode)?;
        Ok(Money::new(amount, self.currency))
    }

    /// `bps` basis points of `self` (`2000` is 20 %), rounded by `mode`.
    pub fn percent_bps(self, bps: i64, mode: Rounding) -> Result<Money, MoneyError> {
        self.mul_ratio(bps, 10_000, mode)
    }

    /// Splits `self` into parts proportional to `ratios` by the largest
    /// remainder method.
    ///
    /// Each part first gets the floor of its exact share; the minor units left
    /// over go one each to the parts with the largest remainders, ties to the
    /// earliest index. So the parts always sum exactly to `self`, and each part
    /// is less than one minor unit away from its exact share. A negative amount
    /// is allocated as its absolute value and every part negated. Parts with a
    /// zero ratio get zero.
    ///
    /// Errors with [`MoneyError::InvalidRatios`] when `ratios` is empty or sums
    /// to zero.
    pub fn allocate(self, ratios: &[u64]) -> Result<Vec<Money>, MoneyError> {
        // u128 holds the sum of any realistic number of u64 ratios, and the
        // products below: |amount| < 2^64 and ratio < 2^64.
        let total = ratios.iter().try_fold(0_u128, |acc, &r| acc.checked_add(u128::from(r)));
        let total = match total {
            Some(t) if t > 0 => t,
            _ => return Err(MoneyError::InvalidRatios),
        };
        let magnitude = u128::from(self.amount_minor.unsigned_abs());
        let mut parts = Vec::with_capacity(ratios.len());
        let mut remainders = Vec::with_capacity(ratios.len());
        let mut assigned: u128 = 0;
        for (index, &ratio) in ratios.iter().enumerate() {
            let exact = magnitude * u128::from(ratio);
            let floor = exact / total;
            assigned += floor;
            parts.push(floor);
            remainders.push((exact % total, index));
        }
        // Fewer than `ratios.len()` units are left: the remainders sum to
        // `left * total` and each is below `total`.
        let left = magnitude - assigned;
        // Largest remainder first; the stable sort keeps earlier indexes first
        // among equal remainders.
        remainders.sort_by_key(|&(remainder, _)| std::cmp::Reverse(remainder));
        for &(_, index) in remainders.iter().take(usize::try_from(left).map_err(|_| MoneyError::Overflow)?) {
            parts[index] += 1;
        }
        let negative = self.amount_minor < 0;
        parts
            .into_iter()
            .map(|part| {
                // part <= |amount| <= 2^63, so the i128 conversion is exact; the
                // i64 one fails only for +2^63 of a positive amount, which
                // cannot happen since |amount| <= i64::MAX when positive.
                let signed = i128::try_from(part).map_err(|_| MoneyError::Overflow)?;
                let signed = if negative { -signed } else { signed };
                let amount = i64::try_from(signed).map_err(|_| MoneyError::Overflow)?;
                Ok(Money::new(amount, self.currency))
            })
            .collect()
    }

    /// Splits `self` into `n` parts that differ by at most one minor unit, the
    /// larger (in absolute value) first. `n == 0` and `n` above
    /// [`MAX_SPLIT_PARTS`] are [`MoneyError::InvalidRatios`].
    pub fn split_even(self, n: usize) -> Result<Vec<Money>, MoneyError> {
        if n == 0 || n > MAX_SPLIT_PARTS {
            return Err(MoneyError::InvalidRatios);
        }
        self.allocate(&vec![1; n])
    }
}

/// `"1234.56 USD"`: the plain decimal and the code.
impl fmt::Display for Money {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{} {}", self.to_decimal_string(), self.currency)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    fn usd(n: i64) -> Money {
        Money::new(n, Currency::USD)
    }

    fn amounts(parts: &[Money]) -> Vec<i64> {
        parts.iter().map(|m| m.amount_minor).collect()
    }

    #[test]
    fn constructors_and_predicates() {
        let z = Money::zero(Currency::EUR);
        assert!(z.is_zero() && !z.is_negative() && !z.is_positive());
        assert!(usd(-1).is_negative() && usd(1).is_positive());
        assert_eq!(Money::try_new(MAX_AMOUNT_MINOR, Currency::USD), Ok(usd(MAX_AMOUNT_MINOR)));
        assert_eq!(Money::try_new(-MAX_AMOUNT_MINOR, Currency::USD), Ok(usd(-MAX_AMOUNT_MINOR)));
        assert_eq!(Money::try_new(MAX_AMOUNT_MINOR + 1, Currency::USD), Err(MoneyError::OutOfRange));
        assert_eq!(Money::try_new(i64::MIN, Currency::USD), Err(MoneyError::OutOfRange));
    }

    #[test]
    fn huge_split_counts_are_errors() {
        assert_eq!(usd(100).split_even(usize::MAX), Err(MoneyError::InvalidRatios));
        assert_eq!(usd(100).split_even(MAX_SPLIT_PARTS + 1), Err(MoneyError::InvalidRatios));
        assert_eq!(usd(100).split_even(3).map(|p| amounts(&p)), Ok(vec![34, 33, 33]));
    }

    #[test]
    fn arithmetic() {
        assert_eq!(usd(150).checked_add(usd(-50)), Ok(usd(100)));
        assert_eq!(usd(150).checked_sub(usd(200)), Ok(usd(-50)));
        assert_eq!(usd(i64::MAX).checked_add(usd(1)), Err(MoneyError::Overflow));
        assert_eq!(usd(i64::MIN).checked_sub(usd(1)), Err(MoneyError::Overflow));
        assert_eq!(usd(i64::MIN).checked_neg(), Err(MoneyError::Overflow));
        assert_eq!(usd(i64::MIN).checked_abs(), Err(MoneyError::Overflow));
        assert_eq!(usd(-7).checked_abs(), Ok(usd(7)));
        assert_eq!(usd(5).checked_neg(), Ok(usd(-5)));
        assert_eq!(usd(5).checked_mul(-3), Ok(usd(-15)));
        assert_eq!(usd(i64::MAX / 2 + 1).checked_mul(2), Err(MoneyError::Overflow));
        let mismatch = usd(1).checked_add(Money::new(1, Currency::EUR));
        assert_eq!(mismatch, Err(MoneyError::CurrencyMismatch { left: Currency::USD, right: Currency::EUR }));
        assert_eq!(mismatch.unwrap_err().to_string(), "currency mismatch: USD and EUR cannot be combined");
        assert!(usd(1).checked_sub(Money::new(1, Currency::JPY)).is_err());
        assert_eq!(Money::checked_sum(Currency::USD, [usd(1), usd(2), usd(3)]), Ok(usd(6)));
        assert_eq!(Money::checked_sum(Currency::USD, []), Ok(usd(0)));
        assert_eq!(Money::checked_sum(Currency::USD, [usd(i64::MAX), usd(1)]), Err(MoneyError::Overflow));
    }

    #[test]
    fn mul_ratio_and_percent() {
        assert_eq!(usd(1000).mul_ratio(1, 3, Rounding::HalfEven), Ok(usd(333)));
        assert_eq!(usd(1000).mul_ratio(2, 3, Rounding::HalfEven), Ok(usd(667)));
        assert_eq!(usd(1000).mul_ratio(2, 3, Rounding::Down), Ok(usd(666)));
        assert_eq!(usd(-1000).mul_ratio(2, 3, Rounding::Floor), Ok(usd(-667)));
        assert_eq!(usd(-1000).mul_ratio(2, 3, Rounding::Ceiling), Ok(usd(-666)));
        assert_eq!(usd(5).mul_ratio(1, 2, Rounding::HalfEven), Ok(usd(2)));
        assert_eq!(usd(5).mul_ratio(1, 2, Rounding::HalfUp), Ok(usd(3)));
        assert_eq!(usd(-5).mul_ratio(1, 2, Rounding::HalfUp), Ok(usd(-3)));
        assert_eq!(usd(1).mul_ratio(1, 0, Rounding::Down), Err(MoneyError::InvalidDenominator(0)));
        assert_eq!(usd(1).mul_ratio(1, -2, Rounding::Down), Err(MoneyError::InvalidDenominator(-2)));
        // The intermediate product exceeds i64 but the result fits.
        assert_eq!(usd(i64::MAX).mul_ratio(3, 3, Rounding::Down), Ok(usd(i64::MAX)));
        assert_eq!(usd(i64::MAX).mul_ratio(3, 2, Rounding::Down), Err(MoneyError::Overflow));
        // 20 % VAT on 19.99 is 3.998 -> 4.00
        assert_eq!(usd(1999).percent_bps(2000, Rounding::HalfEven), Ok(usd(400)));
        assert_eq!(usd(1999).percent_bps(2000, Rounding::Down), Ok(usd(399)));
        // 0.25 % of 2.00 = 0.005 -> half-even 0.00, half-up 0.01
        assert_eq!(usd(200).percent_bps(25, Rounding::HalfEven), Ok(usd(0)));
        assert_eq!(usd(200).percent_bps(25, Rounding::HalfUp), Ok(usd(1)));
        assert_eq!(usd(600).percent_bps(25, Rounding::HalfEven), Ok(usd(2)));
        assert_eq!(usd(12345).percent_bps(10_000, Rounding::Up), Ok(usd(12345)));
        assert_eq!(usd(12345).percent_bps(-1000, Rounding::HalfUp), Ok(usd(-1235)));
    }

    #[test]
    fn allocate_examples() {
        assert_eq!(amounts(&usd(100).allocate(&[1, 1, 1]).unwrap()), [34, 33, 33]);
        assert_eq!(amounts(&usd(-100).allocate(&[1, 1, 1]).unwrap()), [-34, -33, -33]);
        assert_eq!(amounts(&usd(5).allocate(&[3, 7]).unwrap()), [2, 3]);
        assert_eq!(amounts(&usd(1).allocate(&[1, 1]).unwrap()), [1, 0]);
        assert_eq!(amounts(&usd(100).allocate(&[0, 1, 0]).unwrap()), [0, 100, 0]);
        assert_eq!(amounts(&usd(0).allocate(&[1, 2]).unwrap()), [0, 0]);
        // exact shares 8.5 / 1 / 0.5: the one unit left goes to the first .5
        assert_eq!(amounts(&usd(10).allocate(&[17, 2, 1]).unwrap()), [9, 1, 0]);
        // ties go to the earliest index
        assert_eq!(amounts(&usd(2).allocate(&[1, 1, 1, 1]).unwrap()), [1, 1, 0, 0]);
        assert_eq!(amounts(&usd(i64::MIN).allocate(&[1]).unwrap()), [i64::MIN]);
        assert_eq!(amounts(&usd(i64::MAX).allocate(&[u64::MAX, u64::MAX]).unwrap()), [i64::MAX / 2 + 1, i64::MAX / 2]);
        assert_eq!(usd(1).allocate(&[]), Err(MoneyError::InvalidRatios));
        assert_eq!(usd(1).allocate(&[0, 0]), Err(MoneyError::InvalidRatios));
        assert!(usd(1).allocate(&[1]).unwrap().iter().all(|m| m.currency == Currency::USD));
    }

    #[test]
    fn split_even_examples() {
        assert_eq!(amounts(&usd(1000).split_even(3).unwrap()), [334, 333, 333]);
        assert_eq!(amounts(&usd(-1000).split_even(3).unwrap()), [-334, -333, -333]);
        assert_eq!(amounts(&usd(2).split_even(5).unwrap()), [1, 1, 0, 0, 0]);
        assert_eq!(amounts(&usd(9).split_even(1).unwrap()), [9]);
        assert_eq!(usd(9).split_even(0), Err(MoneyError::InvalidRatios));
    }

    #[test]
    fn serde_shape_and_range() {
        let m = Money::new(-1234, Currency::BHD);
        let json = serde_json::to_string(&m).unwrap();
        assert_eq!(json, r#"{"amount_minor":-1234,"currency":"BHD"}"#);
        assert_eq!(serde_json::from_str::<Money>(&json).unwrap(), m);
        let lower: Money = serde_json::from_str(r#"{"amount_minor":5,"currency":"usd"}"#).unwrap();
        assert_eq!(lower, usd(5));
        let too_big = format!(r#"{{"amount_minor":{},"currency":"USD"}}"#, MAX_AMOUNT_MINOR + 1);
        assert!(serde_json::from_str::<Money>(&too_big).unwrap_err().to_string().contains("out of range"));
        let bad = serde_json::from_str::<Money>(r#"{"amount_minor":1,"currency":"QQQ"}"#).unwrap_err();
        assert!(bad.to_string().contains("QQQ"), "{bad}");
        assert!(serde_json::from_str::<Money>(r#"{"amount_minor":1.5,"currency":"USD"}"#).is_err());
        assert!(serde_json::from_str::<Money>(r#"{"currency":"USD"}"#).is_err());
    }

    #[test]
    fn display() {
        assert_eq!(usd(-5).to_string(), "-0.05 USD");
        assert_eq!(Money::new(1234, Currency::JPY).to_string(), "1234 JPY");
    }

    fn ratios() -> impl Strategy<Value = Vec<u64>> {
        prop_oneof![
            prop::collection::vec(0_u64..10, 1..12),
            prop::collection::vec(0_u64..1_000_000_000, 1..12),
            prop::collection::vec(any::<u32>().prop_map(u64::from), 1..6),
        ]
        .prop_filter("positive sum", |r| r.iter().any(|&x| x > 0))
    }

    proptest! {
        #[test]
        fn allocate_sums_exactly_and_is_fair(amount in any::<i64>(), ratios in ratios()) {
            let parts = usd(amount).allocate(&ratios).unwrap();
            prop_assert_eq!(parts.len(), ratios.len());
            let sum: i128 = parts.iter().map(|p| i128::from(p.amount_minor)).sum();
            prop_assert_eq!(sum, i128::from(amount));
            let total: i128 = ratios.iter().map(|&r| i128::from(r)).sum();
            for (part, &ratio) in parts.iter().zip(&ratios) {
                // |part - amount * ratio / total| < 1, scaled by total.
                let scaled_error = i128::from(part.amount_minor) * total - i128::from(amount) * i128::from(ratio);
                prop_assert!(scaled_error.abs() < total, "part {} ratio {} of {}", part.amount_minor, ratio, amount);
                prop_assert!(part.amount_minor == 0 || part.amount_minor.signum() == amount.signum());
                if ratio == 0 {
                    prop_assert_eq!(part.amount_minor, 0);
                }
            }
        }

        #[test]
        fn split_even_parts_differ_by_at_most_one(amount in any::<i64>(), n in 1_usize..40) {
            let parts = amounts(&usd(amount).split_even(n).unwrap());
            prop_assert_eq!(parts.len(), n);
            prop_assert_eq!(parts.iter().map(|&p| i128::from(p)).sum::<i128>(), i128::from(amount));
            let max = parts.iter().max().unwrap();
            let min = parts.iter().min().unwrap();
            prop_assert!(i128::from(*max) - i128::from(*min) <= 1);
        }

        #[test]
        fn add_sub_agree_with_i128(a in any::<i64>(), b in any::<i64>()) {
            let wide_sum = i128::from(a) + i128::from(b);
            match usd(a).checked_add(usd(b)) {
                Ok(m) => prop_assert_eq!(i128::from(m.amount_minor), wide_sum),
                Err(e) => {
                    prop_assert_eq!(e, MoneyError::Overflow);
                    prop_assert!(i64::try_from(wide_sum).is_err());
                }
            }
            let wide_diff = i128::from(a) - i128::from(b);
            match usd(a).checked_sub(usd(b)) {
                Ok(m) => prop_assert_eq!(i128::from(m.amount_minor), wide_diff),
                Err(e) => {
                    prop_assert_eq!(e, MoneyError::Overflow);
                    prop_assert!(i64::try_from(wide_diff).is_err());
                }
            }
        }

        #[test]
        fn add_sub_small_values_never_fail(a in -MAX_AMOUNT_MINOR..=MAX_AMOUNT_MINOR, b in -MAX_AMOUNT_MINOR..=MAX_AMOUNT_MINOR) {
            let sum = usd(a).checked_add(usd(b)).unwrap();
            prop_assert_eq!(sum.checked_sub(usd(b)), Ok(usd(a)));
        }

        #[test]
        fn mul_agrees_with_i128(a in any::<i64>(), n in any::<i64>()) {
            let wide = i128::from(a) * i128::from(n);
            match usd(a).checked_mul(n) {
                Ok(m) => prop_assert_eq!(i128::from(m.amount_minor), wide),
                Err(e) => {
                    prop_assert_eq!(e, MoneyError::Overflow);
                    prop_assert!(i64::try_from(wide).is_err());
                }
            }
        }

        #[test]
        fn mul_ratio_is_between_floor_and_ceiling(a in -MAX_AMOUNT_MINOR..=MAX_AMOUNT_MINOR, num in -100_000_i64..100_000, den in 1_i64..100_000) {
            let exact_num = i128::from(a) * i128::from(num);
            let floor = usd(a).mul_ratio(num, den, Rounding::Floor).unwrap().amount_minor;
            let ceil = usd(a).mul_ratio(num, den, Rounding::Ceiling).unwrap().amount_minor;
            prop_assert!(i128::from(floor) * i128::from(den) <= exact_num);
            prop_assert!(i128::from(ceil) * i128::from(den) >= exact_num);
            prop_assert!(ceil - floor <= 1);
            for mode in Rounding::ALL {
                let got = usd(a).mul_ratio(num, den, mode).unwrap().amount_minor;
                prop_assert!(got == floor || got == ceil);
            }
        }
    }
}
