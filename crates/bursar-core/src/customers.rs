//! Customers: the billed parties (learners, instructors, organizations).

use bursar_domain::geo;
use bursar_domain::money::{Currency, Locale};
use bursar_store::customers::CustomerRow;

/// The ledger account of a customer's credit balance.
pub fn credit_account(customer_id: &str) -> String {
    format!("customer_credit:{customer_id}")
}

/// The currency a customer is billed in: their choice, else their
/// country's, else their locale's, else USD.
pub fn billing_currency_of(row: &CustomerRow) -> Currency {
    let preferred = row.preferred_currency.as_deref().and_then(|c| Currency::from_code(c).ok());
    let locale = row.locale.as_deref().and_then(|l| Locale::from_tag(l).ok());
    geo::billing_currency(preferred, row.country.as_deref(), locale)
}
