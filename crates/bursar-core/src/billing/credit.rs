//! What refunds may take: where the money goes, what was credited so far,
//! and the tax share of a credit.

use super::rules::err;
use crate::error::{Error, Result};

use bursar_store::billing::{self, InvoiceRow};
use bursar_store::Tx;

/// Where refunded money goes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RefundTo {
    /// Back through the provider that took the payment.
    PaymentMethod,
    /// To the customer's credit balance, used before their next charge.
    CreditBalance,
}

impl RefundTo {
    /// The API's `refund_to`: `payment_method` (the default) or
    /// `credit_balance`.
    pub fn parse(v: Option<&str>) -> Result<RefundTo> {
        match v.unwrap_or("payment_method") {
            "payment_method" => Ok(RefundTo::PaymentMethod),
            "credit_balance" => Ok(RefundTo::CreditBalance),
            _ => Err(Error::invalid("refund_to", "refund_to is payment_method or credit_balance")),
        }
    }
}

/// What an invoice's credit notes have credited so far: (in all, of it
/// tax). A voided credit note (a refund the provider refused) counts for
/// nothing.
pub async fn credited_so_far(tx: &mut Tx, invoice: &InvoiceRow) -> Result<(i64, i64)> {
    let notes = billing::credit_notes_of(&mut **tx, invoice.livemode, &invoice.id).await?;
    let credited = notes.iter().map(|c| c.credited()).sum();
    let tax = notes.iter().filter(|c| c.status != "void").map(|c| c.tax).sum();
    Ok((credited, tax))
}

/// The tax of the first `credited` minor units credited on an invoice:
/// `credited × tax ÷ total`, rounded half up. Refunds take tax by this,
/// cumulatively, so rounding never drifts and the last credit takes exactly
/// what is left.
pub fn tax_share(invoice: &InvoiceRow, credited: i64) -> Result<i64> {
    bursar_domain::money::round_div(
        i128::from(credited) * i128::from(invoice.tax),
        i128::from(invoice.total),
        bursar_domain::money::Rounding::HalfUp,
    )
    .map_err(err)
}

/// The smallest refund whose part net of tax is at least `net`, after
/// credit notes that credited `credited` in all, `tax_credited` of it tax;
/// at most what is left to credit.
pub fn gross_for_net(invoice: &InvoiceRow, credited: i64, tax_credited: i64, net: i64) -> Result<i64> {
    let left = invoice.total - credited;
    let net_of = |amount: i64| -> Result<i64> { Ok(amount - (tax_share(invoice, credited + amount)? - tax_credited)) };
    let untaxed = invoice.total - invoice.tax;
    let mut amount = if untaxed > 0 {
        let gross = i128::from(net) * i128::from(invoice.total) / i128::from(untaxed);
        i64::try_from(gross).map_err(|_| Error::internal())?.clamp(1, left.max(1))
    } else {
        net
    };
    // The estimate is within a unit or two; step to the smallest that covers.
    while amount < left && net_of(amount)? < net {
        amount += 1;
    }
    while amount > 1 && net_of(amount - 1)? >= net {
        amount -= 1;
    }
    Ok(amount.min(left))
}
