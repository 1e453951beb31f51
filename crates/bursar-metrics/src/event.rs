//! The events of the import file: one typed body per event type, and the
//! parsing of one line into an [`ImportEvent`].

use bursar_domain::catalog::Interval;
use bursar_domain::money::Currency;
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};

use crate::error::split_serde_error;
use crate::time::{format_ts, serde_ts, serde_ts_opt, Month};
use crate::LineError;

/// `trialing` or `active` (or `past_due` when the first charge failed).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum CreatedStatus {
    Trialing,
    Active,
    PastDue,
}

/// `converted`, `past_due` or `expired`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TrialOutcomeName {
    Converted,
    PastDue,
    Expired,
}

/// `immediate` or `period_end`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Effective {
    Immediate,
    PeriodEnd,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SignedUp {
    #[serde(default)]
    pub country: Option<String>,
    #[serde(default)]
    pub currency: Option<Currency>,
    #[serde(default)]
    pub acquisition_channel: Option<String>,
    #[serde(default)]
    pub plan_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PageView {
    #[serde(default)]
    pub page: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscountRef {
    pub coupon_id: String,
    #[serde(with = "serde_ts")]
    pub start: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionCreated {
    pub subscription_id: String,
    pub plan_id: String,
    pub currency: Currency,
    pub quantity: i64,
    #[serde(default)]
    pub unit_amount_minor: Option<i64>,
    #[serde(default)]
    pub interval: Option<Interval>,
    pub status: CreatedStatus,
    #[serde(default, with = "serde_ts_opt")]
    pub trial_start: Option<i64>,
    #[serde(default, with = "serde_ts_opt")]
    pub trial_end: Option<i64>,
    #[serde(default, with = "serde_ts_opt")]
    pub current_period_start: Option<i64>,
    #[serde(default, with = "serde_ts_opt")]
    pub current_period_end: Option<i64>,
    #[serde(default)]
    pub discount: Option<DiscountRef>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct TrialEnded {
    pub subscription_id: String,
    pub outcome: TrialOutcomeName,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default, with = "serde_ts_opt", skip_serializing_if = "Option::is_none")]
    pub current_period_start: Option<i64>,
    #[serde(default, with = "serde_ts_opt", skip_serializing_if = "Option::is_none")]
    pub current_period_end: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Renewed {
    pub subscription_id: String,
    #[serde(with = "serde_ts")]
    pub current_period_start: i64,
    #[serde(default, with = "serde_ts_opt")]
    pub current_period_end: Option<i64>,
}

/// One invoice line; only `kind` and `amount_minor` are required.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceLine {
    pub kind: String,
    pub amount_minor: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub plan_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quantity: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub unit_amount_minor: Option<i64>,
    #[serde(default, with = "serde_ts_opt", skip_serializing_if = "Option::is_none")]
    pub period_start: Option<i64>,
    #[serde(default, with = "serde_ts_opt", skip_serializing_if = "Option::is_none")]
    pub period_end: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub coupon_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rate_bps: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Invoice {
    pub invoice_id: String,
    #[serde(default)]
    pub subscription_id: Option<String>,
    #[serde(default)]
    pub billing_reason: Option<String>,
    #[serde(default)]
    pub attempt: Option<i64>,
    pub currency: Currency,
    #[serde(default)]
    pub lines: Vec<InvoiceLine>,
    #[serde(default)]
    pub subtotal_minor: Option<i64>,
    #[serde(default)]
    pub discount_minor: Option<i64>,
    #[serde(default)]
    pub tax_minor: i64,
    pub total_minor: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PastDue {
    pub subscription_id: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub invoice_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct StatusChange {
    pub subscription_id: String,
    #[serde(default)]
    pub status: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Canceled {
    pub subscription_id: String,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct CancelFlow {
    #[serde(default)]
    pub subscription_id: Option<String>,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub save_offer: Option<Value>,
    #[serde(default)]
    pub accepted: Option<bool>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CancelRequested {
    pub subscription_id: String,
    pub at_period_end: bool,
    #[serde(default, with = "serde_ts_opt")]
    pub effective_at: Option<i64>,
    #[serde(default)]
    pub reason: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct SubscriptionRef {
    pub subscription_id: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct PlanChanged {
    pub subscription_id: String,
    #[serde(default)]
    pub from_plan_id: Option<String>,
    pub to_plan_id: String,
    #[serde(default)]
    pub unit_amount_minor: Option<i64>,
    #[serde(default)]
    pub interval: Option<Interval>,
    #[serde(default)]
    pub quantity: Option<i64>,
    #[serde(default)]
    pub effective: Option<Effective>,
    #[serde(default)]
    pub proration: Option<Value>,
    #[serde(default)]
    pub discount_cleared: bool,
    #[serde(default, with = "serde_ts_opt", skip_serializing_if = "Option::is_none")]
    pub current_period_start: Option<i64>,
    #[serde(default, with = "serde_ts_opt", skip_serializing_if = "Option::is_none")]
    pub current_period_end: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DowngradeScheduled {
    #[serde(default)]
    pub subscription_id: Option<String>,
    #[serde(default)]
    pub to_plan_id: Option<String>,
    #[serde(default, with = "serde_ts_opt")]
    pub effective_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct QuantityChangeScheduled {
    #[serde(default)]
    pub subscription_id: Option<String>,
    #[serde(default)]
    pub to_quantity: Option<i64>,
    #[serde(default, with = "serde_ts_opt")]
    pub effective_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct QuantityChanged {
    #[serde(default)]
    pub subscription_id: Option<String>,
    #[serde(default)]
    pub from_quantity: Option<i64>,
    pub to_quantity: i64,
    #[serde(default)]
    pub effective: Option<Effective>,
    #[serde(default)]
    pub proration: Option<Value>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscountApplied {
    pub subscription_id: String,
    pub coupon_id: String,
    #[serde(with = "serde_ts")]
    pub start: i64,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DiscountEnded {
    pub subscription_id: String,
    #[serde(default)]
    pub coupon_id: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PauseScheduled {
    #[serde(default)]
    pub subscription_id: Option<String>,
    #[serde(default, with = "serde_ts_opt")]
    pub pause_start: Option<i64>,
    #[serde(default, with = "serde_ts_opt")]
    pub resumes_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Paused {
    #[serde(default)]
    pub subscription_id: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default, with = "serde_ts_opt")]
    pub resumes_at: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Resumed {
    #[serde(default)]
    pub subscription_id: Option<String>,
    #[serde(default)]
    pub status: Option<String>,
    #[serde(default, with = "serde_ts_opt")]
    pub current_period_start: Option<i64>,
    #[serde(default, with = "serde_ts_opt")]
    pub current_period_end: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RefundCreated {
    pub refund_id: String,
    #[serde(default)]
    pub invoice_id: Option<String>,
    #[serde(default)]
    pub subscription_id: Option<String>,
    pub currency: Currency,
    pub amount_minor: i64,
    #[serde(default)]
    pub reason: Option<String>,
    #[serde(default)]
    pub cancels_subscription: bool,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct MarketingSpend {
    pub month: Month,
    #[serde(default)]
    pub channel: Option<String>,
    pub currency: Currency,
    pub amount_minor: i64,
}

/// Range checks beyond the JSON shape: the field at fault and why.
trait Check {
    fn check(&self) -> Result<(), (String, String)> {
        Ok(())
    }
}

fn non_negative(field: &str, v: Option<i64>) -> Result<(), (String, String)> {
    match v {
        Some(x) if x < 0 => Err((field.to_string(), format!("must not be negative, found {x}"))),
        _ => Ok(()),
    }
}

fn non_empty(field: &str, v: &str) -> Result<(), (String, String)> {
    if v.is_empty() {
        Err((field.to_string(), "must not be empty".to_string()))
    } else {
        Ok(())
    }
}

impl Check for SignedUp {}
impl Check for PageView {}
impl Check for CancelFlow {}
impl Check for DowngradeScheduled {}
impl Check for QuantityChangeScheduled {}
impl Check for DiscountEnded {}
impl Check for PauseScheduled {}
impl Check for Paused {}
impl Check for Resumed {}
impl Check for SubscriptionCreated {
    fn check(&self) -> Result<(), (String, String)> {
        non_empty("subscription_id", &self.subscription_id)?;
        non_negative("quantity", Some(self.quantity))?;
        non_negative("unit_amount_minor", self.unit_amount_minor)
    }
}
impl Check for TrialEnded {
    fn check(&self) -> Result<(), (String, String)> {
        non_empty("subscription_id", &self.subscription_id)
    }
}
impl Check for Renewed {
    fn check(&self) -> Result<(), (String, String)> {
        non_empty("subscription_id", &self.subscription_id)
    }
}
impl Check for Invoice {
    fn check(&self) -> Result<(), (String, String)> {
        non_negative("tax_minor", Some(self.tax_minor))
    }
}
impl Check for PastDue {
    fn check(&self) -> Result<(), (String, String)> {
        non_empty("subscription_id", &self.subscription_id)
    }
}
impl Check for StatusChange {
    fn check(&self) -> Result<(), (String, String)> {
        non_empty("subscription_id", &self.subscription_id)
    }
}
impl Check for Canceled {
    fn check(&self) -> Result<(), (String, String)> {
        non_empty("subscription_id", &self.subscription_id)
    }
}
impl Check for CancelRequested {
    fn check(&self) -> Result<(), (String, String)> {
        non_empty("subscription_id", &self.subscription_id)
    }
}
impl Check for SubscriptionRef {
    fn check(&self) -> Result<(), (String, String)> {
        non_empty("subscription_id", &self.subscription_id)
    }
}
impl Check for PlanChanged {
    fn check(&self) -> Result<(), (String, String)> {
        non_empty("subscription_id", &self.subscription_id)?;
        non_negative("unit_amount_minor", self.unit_amount_minor)?;
        non_negative("quantity", self.quantity)
    }
}
impl Check for QuantityChanged {
    fn check(&self) -> Result<(), (String, String)> {
        non_negative("to_quantity", Some(self.to_quantity))
    }
}
impl Check for DiscountApplied {
    fn check(&self) -> Result<(), (String, String)> {
        non_empty("subscription_id", &self.subscription_id)
    }
}
impl Check for RefundCreated {
    fn check(&self) -> Result<(), (String, String)> {
        non_negative("amount_minor", Some(self.amount_minor))
    }
}
impl Check for MarketingSpend {
    fn check(&self) -> Result<(), (String, String)> {
        non_negative("amount_minor", Some(self.amount_minor))
    }
}

fn de_body<T: DeserializeOwned + Check>(line: &str) -> Result<T, (Option<String>, String)> {
    let mut de = serde_json::Deserializer::from_str(line);
    let body: T = serde_path_to_error::deserialize(&mut de)
        .map_err(|e| split_serde_error(e.path().to_string(), e.inner().to_string()))?;
    body.check().map_err(|(f, m)| (Some(f), m))?;
    Ok(body)
}

macro_rules! event_types {
    ($($name:literal => $variant:ident($ty:ty),)*) => {
        /// The type-specific fields of an event, one variant per type of the
        /// spec's table.
        #[derive(Debug, Clone, PartialEq)]
        pub enum EventBody {
            $($variant($ty),)*
            /// An unknown type: its name and its fields other than the
            /// common ones.
            Unknown(String, Map<String, Value>),
        }

        impl EventBody {
            /// The `type` of the event.
            pub fn type_name(&self) -> &str {
                match self {
                    $(EventBody::$variant(_) => $name,)*
                    EventBody::Unknown(name, _) => name,
                }
            }

            fn parse(type_name: &str, line: &str) -> Result<EventBody, (Option<String>, String)> {
                match type_name {
                    $($name => de_body::<$ty>(line).map(EventBody::$variant),)*
                    other => {
                        let mut fields: Map<String, Value> = serde_json::from_str(line).map_err(|e| (None, e.to_string()))?;
                        for common in ["ts", "type", "customer_id"] {
                            fields.remove(common);
                        }
                        Ok(EventBody::Unknown(other.to_string(), fields))
                    }
                }
            }

            fn fields(&self) -> Map<String, Value> {
                let v = match self {
                    $(EventBody::$variant(b) => serde_json::to_value(b),)*
                    EventBody::Unknown(_, fields) => return fields.clone(),
                };
                match v {
                    Ok(Value::Object(m)) => m,
                    _ => Map::new(),
                }
            }
        }
    };
}

event_types! {
    "user.signed_up" => SignedUp(SignedUp),
    "pricing_page.viewed" => PricingPageViewed(PageView),
    "checkout.started" => CheckoutStarted(PageView),
    "subscription.created" => SubscriptionCreated(SubscriptionCreated),
    "subscription.trial_ended" => TrialEnded(TrialEnded),
    "subscription.renewed" => Renewed(Renewed),
    "invoice.paid" => InvoicePaid(Invoice),
    "invoice.payment_failed" => InvoicePaymentFailed(Invoice),
    "subscription.past_due" => PastDue(PastDue),
    "subscription.recovered" => Recovered(StatusChange),
    "subscription.canceled" => Canceled(Canceled),
    "subscription.cancel_flow" => CancelFlow(CancelFlow),
    "subscription.cancel_requested" => CancelRequested(CancelRequested),
    "subscription.cancel_unscheduled" => CancelUnscheduled(SubscriptionRef),
    "subscription.plan_changed" => PlanChanged(PlanChanged),
    "subscription.downgrade_scheduled" => DowngradeScheduled(DowngradeScheduled),
    "subscription.quantity_change_scheduled" => QuantityChangeScheduled(QuantityChangeScheduled),
    "subscription.quantity_changed" => QuantityChanged(QuantityChanged),
    "subscription.discount_applied" => DiscountApplied(DiscountApplied),
    "subscription.discount_ended" => DiscountEnded(DiscountEnded),
    "subscription.pause_scheduled" => PauseScheduled(PauseScheduled),
    "subscription.paused" => Paused(Paused),
    "subscription.resumed" => Resumed(Resumed),
    "refund.created" => RefundCreated(RefundCreated),
    "marketing_spend.recorded" => MarketingSpend(MarketingSpend),
}

/// One line of the events file.
#[derive(Debug, Clone, PartialEq)]
pub struct ImportEvent {
    /// 1-based line number in the file (0 for events made in code).
    pub line: usize,
    pub ts: i64,
    /// `None` for staff facts (marketing spend).
    pub customer_id: Option<String>,
    pub body: EventBody,
}

#[derive(Deserialize)]
struct Head {
    #[serde(with = "serde_ts")]
    ts: i64,
    #[serde(rename = "type")]
    kind: String,
    #[serde(default)]
    customer_id: Option<String>,
}

impl ImportEvent {
    pub fn type_name(&self) -> &str {
        self.body.type_name()
    }

    /// Reads one line (`line_no` is only used in errors).
    pub fn parse_line(text: &str, line_no: usize) -> Result<ImportEvent, LineError> {
        let err = |(field, message): (Option<String>, String)| LineError { line: line_no, field, message };
        let not_json = |e: serde_json::Error| {
            err((None, format!("not valid JSON: {}", split_serde_error(String::new(), e.to_string()).1)))
        };
        if !text.trim_start().starts_with('{') {
            // serde reads a struct from an array too: refuse anything else
            // before reading fields.
            serde_json::from_str::<serde::de::IgnoredAny>(text).map_err(not_json)?;
            return Err(err((None, "expected a JSON object".to_string())));
        }
        let mut de = serde_json::Deserializer::from_str(text);
        let head: Head = serde_path_to_error::deserialize(&mut de).map_err(|e| {
            if e.inner().is_syntax() || e.inner().is_eof() {
                not_json(e.into_inner())
            } else {
                err(split_serde_error(e.path().to_string(), e.inner().to_string()))
            }
        })?;
        de.end().map_err(not_json)?;
        let body = EventBody::parse(&head.kind, text).map_err(err)?;
        let staff = matches!(body, EventBody::MarketingSpend(_) | EventBody::Unknown(..));
        match &head.customer_id {
            Some(c) if c.is_empty() => {
                return Err(err((Some("customer_id".into()), "must not be empty".into())));
            }
            None if !staff => {
                return Err(err((Some("customer_id".into()), format!("required for `{}`", head.kind))));
            }
            _ => {}
        }
        Ok(ImportEvent { line: line_no, ts: head.ts, customer_id: head.customer_id, body })
    }

    /// The event as a JSON object in the import format.
    pub fn to_json(&self) -> Value {
        let mut m = Map::new();
        m.insert("ts".into(), Value::String(format_ts(self.ts)));
        m.insert("type".into(), Value::String(self.type_name().to_string()));
        m.insert("customer_id".into(), self.customer_id.clone().map_or(Value::Null, Value::String));
        m.extend(self.body.fields());
        Value::Object(m)
    }

    /// The event as one line of the import format (no newline).
    pub fn to_json_line(&self) -> String {
        self.to_json().to_string()
    }
}
