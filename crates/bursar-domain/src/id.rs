//! Identifiers: a type prefix and a UUIDv7 in lowercase hex, so ids sort by
//! creation time (`cus_0192f0c1e4b87c3a9d1f2b3c4d5e6f70`). Cursor pagination
//! relies on that order.

use uuid::Uuid;

/// The kinds of object with prefixed ids.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IdKind {
    Customer,
    ApiKey,
    LedgerEntry,
    LedgerPosting,
    TestClock,
    Event,
    StaffUser,
    IdempotencyKey,
    BalanceTransaction,
    AuditRecord,
    Product,
    Plan,
    Price,
    Subscription,
    Invoice,
    InvoiceLine,
    Feedback,
    Coupon,
    Redemption,
    CreditNote,
    PaymentMethod,
    Email,
    Payment,
    Refund,
    CheckoutSession,
    ProviderEvent,
    WebhookEndpoint,
    WebhookDelivery,
    Metric,
    UsageEvent,
    CreditGrant,
    Instructor,
    Course,
    Bundle,
    Cart,
    Order,
    OrderItem,
    Enrollment,
    Earning,
    Payout,
    Affiliate,
    AffiliateClick,
    Commission,
    Review,
    Referral,
    Assessment,
    Item,
    Attempt,
    Calibration,
}

impl IdKind {
    pub const fn prefix(self) -> &'static str {
        match self {
            IdKind::Customer => "cus",
            IdKind::ApiKey => "key",
            IdKind::LedgerEntry => "je",
            IdKind::LedgerPosting => "jp",
            IdKind::TestClock => "clock",
            IdKind::Event => "evt",
            IdKind::StaffUser => "stf",
            IdKind::IdempotencyKey => "idk",
            IdKind::BalanceTransaction => "cbtxn",
            IdKind::AuditRecord => "aud",
            IdKind::Product => "prod",
            IdKind::Plan => "plan",
            IdKind::Price => "price",
            IdKind::Subscription => "sub",
            IdKind::Invoice => "inv",
            IdKind::InvoiceLine => "il",
            IdKind::Feedback => "fb",
            IdKind::Coupon => "coupon",
            IdKind::Redemption => "redeem",
            IdKind::CreditNote => "cn",
            IdKind::PaymentMethod => "pm",
            IdKind::Email => "em",
            IdKind::Payment => "pay",
            IdKind::Refund => "re",
            IdKind::CheckoutSession => "cs",
            IdKind::ProviderEvent => "pevt",
            IdKind::WebhookEndpoint => "we",
            IdKind::WebhookDelivery => "whd",
            IdKind::Metric => "mtr",
            IdKind::UsageEvent => "ue",
            IdKind::CreditGrant => "cg",
            IdKind::Instructor => "ins",
            IdKind::Course => "crs",
            IdKind::Bundle => "bnd",
            IdKind::Cart => "cart",
            IdKind::Order => "ord",
            IdKind::OrderItem => "oi",
            IdKind::Enrollment => "enr",
            IdKind::Earning => "earn",
            IdKind::Payout => "po",
            IdKind::Affiliate => "aff",
            IdKind::AffiliateClick => "clk",
            IdKind::Commission => "comm",
            IdKind::Review => "rev",
            IdKind::Referral => "rfl",
            IdKind::Assessment => "asm",
            IdKind::Item => "itm",
            IdKind::Attempt => "att",
            IdKind::Calibration => "cal",
        }
    }
}

/// A new id of the given kind.
pub fn new_id(kind: IdKind) -> String {
    format!("{}_{}", kind.prefix(), Uuid::now_v7().simple())
}

/// Does `s` look like an id of this kind? Used to reject malformed ids with a
/// 4xx before touching the database.
pub fn is_valid(kind: IdKind, s: &str) -> bool {
    let Some(rest) = s.strip_prefix(kind.prefix()).and_then(|r| r.strip_prefix('_')) else {
        return false;
    };
    rest.len() == 32 && rest.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_prefixed_valid_and_sorted() {
        let ids: Vec<String> = (0..1000).map(|_| new_id(IdKind::Customer)).collect();
        assert!(ids.iter().all(|i| is_valid(IdKind::Customer, i)));
        let mut sorted = ids.clone();
        sorted.sort();
        assert_eq!(ids, sorted, "ids must sort in creation order");
        assert!(!is_valid(IdKind::ApiKey, &ids[0]));
        assert!(!is_valid(IdKind::Customer, "cus_xyz"));
        assert!(!is_valid(IdKind::Customer, "cus_0192F0C1E4B87C3A9D1F2B3C4D5E6F70"));
    }
}
