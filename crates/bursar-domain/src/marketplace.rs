//! How a marketplace sale is divided, and how a refund undoes it.
//!
//! The rule, in one place:
//!
//! * An order's coupon discount is allocated across the lines it applies to
//!   in proportion to their prices (largest remainder, so the parts sum to
//!   the discount exactly).
//! * A line's **net** is its price less its part of the discount. Tax is not
//!   part of the net: it belongs to the tax authority.
//! * The instructor's share is `net × share` rounded half up to the minor
//!   unit; an affiliate's commission is `net × rate` the same way, capped so
//!   that it never exceeds what is left after the instructor's share. The
//!   platform keeps the rest, so the three always sum to the net exactly.
//! * **Provider fees are the platform's cost**: shares and commissions are
//!   computed on the net and never reduced by the fee the payment provider
//!   took, so an instructor earns the same whichever provider was used.
//! * A refund gives back net in proportion to what is still unrefunded on
//!   each line; the instructor's claw-back after a refund is
//!   `share × refunded net / net` (cumulative, rounded half up), so a full
//!   refund claws back exactly the whole share, whatever the steps.

use crate::money::{round_div, Currency, Money, MoneyError, Rounding};

/// Basis points: 10,000 is 100 %.
pub const FULL_BPS: i64 = 10_000;
/// The instructor's default share.
pub const STANDARD_SHARE_BPS: i64 = 7_000;
/// The share of enterprise instructors.
pub const ENTERPRISE_SHARE_BPS: i64 = 7_500;

/// The share of an instructor: the agreed one, else their tier's.
pub fn share_bps(tier: &str, agreed: Option<i64>) -> i64 {
    agreed.unwrap_or(if tier == "enterprise" { ENTERPRISE_SHARE_BPS } else { STANDARD_SHARE_BPS })
}

/// One sold line, before the split.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SaleLine {
    /// Its price, minor units.
    pub amount: i64,
    /// The instructor's share, basis points.
    pub share_bps: i64,
    /// Whether the order's coupon applies to it.
    pub discounted: bool,
}

/// How one line's price was divided.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Split {
    pub discount: i64,
    pub net: i64,
    pub instructor: i64,
    pub commission: i64,
    pub platform: i64,
}

fn bps_of(amount: i64, bps: i64) -> Result<i64, MoneyError> {
    round_div(i128::from(amount) * i128::from(bps), i128::from(FULL_BPS), Rounding::HalfUp)
}

/// The sum of `amounts`, or [`MoneyError::Overflow`] when it leaves `i64`.
fn checked_sum(amounts: impl IntoIterator<Item = i64>) -> Result<i64, MoneyError> {
    amounts.into_iter().try_fold(0_i64, |acc, a| acc.checked_add(a).ok_or(MoneyError::Overflow))
}

/// Divides an order: `discount` (minor units) over the discounted lines,
/// then each line's net between instructor, affiliate (`commission_bps`,
/// zero without one) and platform.
pub fn split_order(
    currency: Currency,
    lines: &[SaleLine],
    discount: i64,
    commission_bps: i64,
) -> Result<Vec<Split>, MoneyError> {
    if lines.iter().any(|l| l.amount < 0 || !(0..=FULL_BPS).contains(&l.share_bps))
        || !(0..=FULL_BPS).contains(&commission_bps)
    {
        return Err(MoneyError::InvalidRatios);
    }
    let ratios: Vec<u64> = lines.iter().map(|l| if l.discounted { l.amount.unsigned_abs() } else { 0 }).collect();
    let eligible = checked_sum(lines.iter().filter(|l| l.discounted).map(|l| l.amount))?;
    if discount < 0 || discount > eligible {
        return Err(MoneyError::InvalidRatios);
    }
    let parts: Vec<i64> = if discount == 0 {
        vec![0; lines.len()]
    } else {
        Money::new(discount, currency).allocate(&ratios)?.into_iter().map(|m| m.amount_minor).collect()
    };
    lines
        .iter()
        .zip(parts)
        .map(|(l, d)| {
            let net = l.amount - d;
            let instructor = bps_of(net, l.share_bps)?;
            let commission = bps_of(net, commission_bps)?.min(net - instructor);
            Ok(Split { discount: d, net, instructor, commission, platform: net - instructor - commission })
        })
        .collect()
}

/// Allocates `refund_net` over lines in proportion to what each still has
/// unrefunded (`net - refunded`). Errors when it exceeds that.
pub fn allocate_refund(currency: Currency, remaining: &[i64], refund_net: i64) -> Result<Vec<i64>, MoneyError> {
    let left = checked_sum(remaining.iter().copied())?;
    if refund_net < 0 || refund_net > left {
        return Err(MoneyError::InvalidRatios);
    }
    if refund_net == 0 {
        return Ok(vec![0; remaining.len()]);
    }
    let ratios: Vec<u64> = remaining.iter().map(|r| r.max(&0).unsigned_abs()).collect();
    Ok(Money::new(refund_net, currency).allocate(&ratios)?.into_iter().map(|m| m.amount_minor).collect())
}

/// How much of `share` is clawed back once `refunded` of `net` has been
/// refunded (cumulative).
pub fn clawed_back(share: i64, net: i64, refunded: i64) -> Result<i64, MoneyError> {
    if net == 0 {
        return Ok(0);
    }
    round_div(i128::from(share) * i128::from(refunded.min(net)), i128::from(net), Rounding::HalfUp)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn eur() -> Currency {
        Currency::from_code("EUR").unwrap()
    }

    #[test]
    fn shares_follow_the_tier_unless_agreed() {
        assert_eq!(share_bps("standard", None), 7_000);
        assert_eq!(share_bps("enterprise", None), 7_500);
        assert_eq!(share_bps("standard", Some(8_000)), 8_000);
    }

    #[test]
    fn a_discount_is_spread_by_price_and_every_line_sums_to_its_net() {
        let lines = [
            SaleLine { amount: 4_999, share_bps: 7_000, discounted: true },
            SaleLine { amount: 2_999, share_bps: 7_500, discounted: true },
            SaleLine { amount: 1_000, share_bps: 7_000, discounted: false },
        ];
        let s = split_order(eur(), &lines, 800, 1_000).unwrap();
        // 800 × 4999/7998 = 500.03 → 500; 800 × 2999/7998 = 299.97 → 300.
        assert_eq!(s.iter().map(|x| x.discount).collect::<Vec<_>>(), vec![500, 300, 0]);
        assert_eq!(s[0].net, 4_499);
        assert_eq!(s[0].instructor, 3_149); // 3149.3
        assert_eq!(s[0].commission, 450); // 449.9
        assert_eq!(s[0].platform, 4_499 - 3_149 - 450);
        assert_eq!(s[1].instructor, 2_024); // 2699 × 0.75 = 2024.25
        for x in &s {
            assert_eq!(x.instructor + x.commission + x.platform, x.net);
        }
        assert_eq!(s.iter().map(|x| x.discount).sum::<i64>(), 800);
    }

    #[test]
    fn a_commission_never_takes_more_than_the_platform_has() {
        let lines = [SaleLine { amount: 1_000, share_bps: 9_000, discounted: false }];
        let s = split_order(eur(), &lines, 0, 2_000).unwrap();
        assert_eq!((s[0].instructor, s[0].commission, s[0].platform), (900, 100, 0));
    }

    #[test]
    fn impossible_splits_are_refused() {
        let line = SaleLine { amount: 1_000, share_bps: 7_000, discounted: true };
        assert!(split_order(eur(), &[line], 1_001, 0).is_err());
        assert!(split_order(eur(), &[SaleLine { share_bps: 10_001, ..line }], 0, 0).is_err());
        assert!(split_order(eur(), &[line], 0, -1).is_err());
    }

    #[test]
    fn refunds_in_steps_claw_back_exactly_the_whole_share() {
        let (share, net) = (3_149, 4_499);
        let mut refunded = 0;
        let mut clawed = 0;
        for step in [1_000, 1_333, 2_166] {
            refunded += step;
            let now = clawed_back(share, net, refunded).unwrap();
            assert!(now >= clawed);
            clawed = now;
        }
        assert_eq!(refunded, net);
        assert_eq!(clawed, share);
        assert_eq!(clawed_back(share, net, 0).unwrap(), 0);
    }

    #[test]
    fn sums_beyond_64_bits_are_errors() {
        let big = SaleLine { amount: i64::MAX, share_bps: 7_000, discounted: true };
        assert_eq!(split_order(eur(), &[big, big], 1, 0), Err(MoneyError::Overflow));
        assert_eq!(split_order(eur(), &[big, SaleLine { discounted: false, ..big }], 0, 0).map(|s| s.len()), Ok(2));
        assert_eq!(allocate_refund(eur(), &[i64::MAX, 1], 5), Err(MoneyError::Overflow));
        assert_eq!(allocate_refund(eur(), &[i64::MIN, -1], 0), Err(MoneyError::Overflow));
        assert_eq!(allocate_refund(eur(), &[i64::MAX, 0], i64::MAX).unwrap(), vec![i64::MAX, 0]);
        assert_eq!(clawed_back(i64::MAX, i64::MIN, i64::MIN).unwrap(), i64::MAX);
    }

    proptest::proptest! {
        /// Any lines, discount and commission: an error or a split whose
        /// parts add up, never a panic.
        #[test]
        fn splits_add_up_or_fail(
            lines in proptest::collection::vec((proptest::num::i64::ANY, -1i64..=10_001, proptest::bool::ANY), 0..6),
            discount in proptest::num::i64::ANY,
            commission in -1i64..=10_001,
        ) {
            let lines: Vec<SaleLine> =
                lines.into_iter().map(|(amount, share_bps, discounted)| SaleLine { amount, share_bps, discounted }).collect();
            if let Ok(splits) = split_order(eur(), &lines, discount, commission) {
                proptest::prop_assert_eq!(splits.len(), lines.len());
                let total: i128 = splits.iter().map(|x| i128::from(x.discount)).sum();
                proptest::prop_assert_eq!(total, i128::from(discount));
                for (x, l) in splits.iter().zip(&lines) {
                    proptest::prop_assert_eq!(i128::from(x.net) + i128::from(x.discount), i128::from(l.amount));
                    proptest::prop_assert_eq!(
                        i128::from(x.instructor) + i128::from(x.commission) + i128::from(x.platform),
                        i128::from(x.net)
                    );
                }
            }
        }

        #[test]
        fn refund_allocation_adds_up_or_fails(
            remaining in proptest::collection::vec(proptest::num::i64::ANY, 0..6),
            refund in proptest::num::i64::ANY,
        ) {
            if let Ok(parts) = allocate_refund(eur(), &remaining, refund) {
                proptest::prop_assert_eq!(parts.len(), remaining.len());
                proptest::prop_assert_eq!(parts.iter().map(|p| i128::from(*p)).sum::<i128>(), i128::from(refund));
            }
        }
    }

    #[test]
    fn a_refund_is_allocated_by_what_is_left() {
        assert_eq!(allocate_refund(eur(), &[4_499, 0, 1_000], 1_100).unwrap(), vec![900, 0, 200]);
        assert!(allocate_refund(eur(), &[100], 101).is_err());
    }
}
