//! Coupon rules as stored (JSON), checked against an attempt built from the
//! input, and the discount they give: never a panic, and a percentage
//! discount of 0 to 100 % never exceeds the amount.
#![no_main]

use bursar_domain::coupon::{discount_of, Attempt, Discount, Item, Rules};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    if data.len() < 17 {
        return;
    }
    let (nums, json) = data.split_at(17);
    let now = i64::from_le_bytes(nums[0..8].try_into().unwrap_or_default());
    let amount = i64::from_le_bytes(nums[8..16].try_into().unwrap_or_default());
    let flags = nums[16];
    let Ok(rules) = serde_json::from_slice::<Rules>(json) else { return };
    let item = match flags % 4 {
        0 => Item::Plan { id: "plan_1", code: "grow" },
        1 => Item::Course { id: "crs_1" },
        2 => Item::Bundle { id: "bnd_1" },
        _ => Item::Other,
    };
    let attempt = Attempt {
        now,
        item,
        currency: if flags & 4 == 0 { "USD" } else { "EUR" },
        amount,
        customer_redemptions: i64::from(flags >> 4),
        customer_has_purchased: flags & 8 != 0,
    };
    let _ = rules.check(flags & 128 == 0, &attempt);
    let _ = rules.duration.invoices(u32::from(flags));
    if let Ok(d) = discount_of(&rules.discount, attempt.currency, amount) {
        if let Discount::Percent { bps } = rules.discount {
            if (0..=10_000).contains(&bps) {
                assert!(d.unsigned_abs() <= amount.unsigned_abs());
            }
        }
    }
});
