//! Transactional emails. A consumer of the event outbox renders welcome,
//! receipt, payment-failed and cancellation-survey emails (and a scan
//! renders trial-ending reminders) into the `emails` outbox, each at most
//! once (a dedupe key per email); a sender delivers them through the
//! configured transport: files, the log, or SMTP.

use crate::ctx::Ctx;
use bursar_domain::clock::{from_millis, to_millis};
use bursar_domain::id::{new_id, IdKind};
use bursar_domain::money::{format_money, Currency, Locale, Money};
use bursar_store::emails::{self, EmailRow};
use bursar_store::{customers, DbError};

const CONSUMER: &str = "emails";
/// Events younger than this (by their id's timestamp) are read again on the
/// next pass, in case an older transaction commits late.
const SETTLE_MS: i64 = 10_000;
/// Reminders go out this long before a trial ends.
const TRIAL_NOTICE_MS: i64 = 3 * 86_400_000;

fn id_time_ms(id: &str) -> i64 {
    id.rsplit('_').next().and_then(|hex| i64::from_str_radix(hex.get(..12)?, 16).ok()).unwrap_or(0)
}

fn money(amount: i64, currency: &str, locale: Option<&str>) -> String {
    let l = locale.and_then(|l| Locale::from_tag(l).ok()).unwrap_or(Locale::EnUs);
    match Currency::from_code(currency) {
        Ok(c) => format_money(Money::new(amount, c), l),
        Err(_) => format!("{amount} {currency}"),
    }
}

fn link(state: &Ctx, path: &str) -> String {
    format!("{}{path}", state.config.base_url())
}

/// What a payment-failed email says happens next: another attempt, or,
/// after the last one, what became of the subscription and how to restart.
/// It promises a retry only when one is scheduled.
fn after_failure(state: &Ctx, data: &serde_json::Value) -> String {
    let update = link(state, "/billing/payment-method");
    if data.get("next_attempt_at").is_some_and(|v| !v.is_null()) {
        return format!("Please update your payment method: {update}\nWe will try again automatically.\n");
    }
    let invoice = link(state, &format!("/billing/invoices/{}", data["id"].as_str().unwrap_or_default()));
    match data.get("subscription_status").and_then(|v| v.as_str()) {
        Some("canceled") => format!(
            "That was the last attempt: your subscription has been canceled and we will not try again.\n\
             To subscribe again, update your payment method and choose a plan: {}\n",
            link(state, "/billing")
        ),
        Some("unpaid") => format!(
            "That was the last attempt: your subscription is unpaid and we will not try again.\n\
             To restart it, update your payment method ({update}) and pay the invoice: {invoice}\n"
        ),
        _ => format!(
            "We will not try again automatically.\nPlease update your payment method ({update}) and pay the invoice: {invoice}\n"
        ),
    }
}

/// Renders the email an event calls for, if any: (kind, subject, body).
fn render(
    state: &Ctx,
    event_type: &str,
    data: &serde_json::Value,
    c: &customers::CustomerRow,
) -> Option<(&'static str, String, String)> {
    let name = c.name.clone().unwrap_or_else(|| "there".into());
    let locale = c.locale.as_deref();
    let s = |k: &str| data.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
    let n = |k: &str| data.get(k).and_then(|v| v.as_i64()).unwrap_or(0);
    match event_type {
        "customer.created" => Some((
            "welcome",
            "Welcome!".to_string(),
            format!("Hi {name},\n\nyour account is ready. Your billing details and invoices are always at\n{}\n", link(state, "/billing")),
        )),
        "invoice.paid" if n("total") > 0 => Some((
            "receipt",
            format!("Receipt for invoice {}", s("number")),
            format!(
                "Hi {name},\n\nthank you for your payment of {} for invoice {}.\nThe invoice: {}\n",
                money(n("amount_due"), &s("currency"), locale),
                s("number"),
                link(state, &format!("/billing/invoices/{}", s("id")))
            ),
        )),
        "invoice.payment_failed" => Some((
            "payment_failed",
            format!("Your payment for invoice {} failed", s("number")),
            format!(
                "Hi {name},\n\nwe could not charge {} for invoice {} ({}).\n{}",
                money(n("amount_due"), &s("currency"), locale),
                s("number"),
                s("failure_code"),
                after_failure(state, data)
            ),
        )),
        "subscription.canceled" => Some((
            "cancellation_survey",
            "Your subscription has ended".to_string(),
            format!(
                "Hi {name},\n\nyour subscription has ended. Would you tell us why in one minute?\n{}\nYou can come back any time.\n",
                link(state, &format!("/billing/feedback?subscription={}", s("id")))
            ),
        )),
        _ => None,
    }
}

/// Reads new events and queues the emails they call for; queues trial
/// reminders. Returns how many emails were queued.
pub async fn collect(state: &Ctx) -> Result<u32, DbError> {
    let mut queued = 0;
    let mut tx = state.db.begin().await?;
    let cursor = emails::cursor(&mut tx, CONSUMER).await?;
    let evs = emails::events_after(&mut tx, &cursor, 500).await?;
    let settle_before = state.now_ms() - SETTLE_MS;
    let mut new_cursor = cursor.clone();
    for e in &evs {
        let customer_id = match e.event_type.as_str() {
            "customer.created" => e.object_id.clone(),
            _ => e.data.get("customer").and_then(|v| v.as_str()).map(str::to_string),
        };
        if let Some(cid) = customer_id {
            if let Some(c) = customers::get(&mut *tx, e.livemode, &cid).await? {
                if let (Some(to), Some((kind, subject, body))) =
                    (c.email.clone(), render(state, &e.event_type, &e.data, &c))
                {
                    queued += u32::from(
                        emails::enqueue(
                            &mut tx,
                            &EmailRow {
                                id: new_id(IdKind::Email),
                                livemode: e.livemode,
                                dedupe_key: format!("{kind}:{}", e.id),
                                customer_id: Some(c.id.clone()),
                                kind: kind.into(),
                                to_address: to,
                                subject,
                                body,
                                status: "pending".into(),
                                attempts: 0,
                                last_error: None,
                                created_at: e.created_at,
                                sent_at: None,
                            },
                        )
                        .await?,
                    );
                }
            }
        }
        if id_time_ms(&e.id) < settle_before {
            new_cursor = e.id.clone();
        }
    }
    if new_cursor != cursor {
        emails::set_cursor(&mut tx, CONSUMER, &new_cursor).await?;
    }
    // Trial reminders: trials ending within three days by the customer's clock.
    for (sid, live, cid, end) in bursar_store::billing::trials_ending(&mut tx, state.now_ms(), TRIAL_NOTICE_MS).await? {
        let Some(c) = customers::get(&mut *tx, live, &cid).await? else { continue };
        let Some(to) = c.email.clone() else { continue };
        let date = from_millis(end).to_zoned(jiff::tz::TimeZone::UTC).date();
        let l = c.locale.as_deref().and_then(|l| Locale::from_tag(l).ok()).unwrap_or(Locale::EnUs);
        queued += u32::from(
            emails::enqueue(
                &mut tx,
                &EmailRow {
                    id: new_id(IdKind::Email),
                    livemode: live,
                    dedupe_key: format!("trial_ending:{sid}"),
                    customer_id: Some(cid),
                    kind: "trial_ending".into(),
                    to_address: to,
                    subject: "Your trial ends soon".into(),
                    body: format!(
                        "Hi {},\n\nyour trial ends on {}. Your plan continues automatically; manage it at {}\n",
                        c.name.clone().unwrap_or_else(|| "there".into()),
                        bursar_domain::money::format_date(date, l),
                        link(state, "/billing")
                    ),
                    status: "pending".into(),
                    attempts: 0,
                    last_error: None,
                    created_at: to_millis(from_millis(end - TRIAL_NOTICE_MS)),
                    sent_at: None,
                },
            )
            .await?,
        );
    }
    tx.commit().await?;
    Ok(queued)
}

fn eml(state: &Ctx, e: &EmailRow) -> String {
    format!(
        "From: {}\r\nTo: {}\r\nSubject: {}\r\nMessage-ID: <{}@bursar>\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n{}",
        state.config.email_from,
        e.to_address,
        e.subject,
        e.id,
        e.body.replace('\n', "\r\n")
    )
}

async fn send_smtp(state: &Ctx, e: &EmailRow) -> Result<(), String> {
    use lettre::{AsyncSmtpTransport, AsyncTransport, Message, Tokio1Executor};
    let url = state.config.smtp_url.as_deref().ok_or("smtp_url is not set")?;
    let msg = Message::builder()
        .from(state.config.email_from.parse().map_err(|e| format!("email_from: {e}"))?)
        .to(e.to_address.parse().map_err(|err| format!("to: {err}"))?)
        .subject(e.subject.clone())
        .body(e.body.clone())
        .map_err(|err| err.to_string())?;
    let transport = AsyncSmtpTransport::<Tokio1Executor>::from_url(url).map_err(|err| err.to_string())?.build();
    transport.send(msg).await.map(|_| ()).map_err(|err| err.to_string())
}

/// Delivers pending emails; a failing one is retried on later passes, up
/// to five attempts.
pub async fn deliver(state: &Ctx) -> Result<u32, DbError> {
    let mut sent = 0;
    for e in emails::pending(state.db.reader(), 100).await? {
        if !emails::claim(&state.db, &e.id).await? {
            continue;
        }
        let result = match state.config.email_transport.as_str() {
            "log" => {
                tracing::info!(to = %e.to_address, subject = %e.subject, kind = %e.kind, "email");
                Ok(())
            }
            "smtp" => send_smtp(state, &e).await,
            _ => {
                let dir = state.config.data_dir.join("outbox");
                match tokio::fs::create_dir_all(&dir).await {
                    Ok(()) => tokio::fs::write(dir.join(format!("{}.eml", e.id)), eml(state, &e))
                        .await
                        .map_err(|err| err.to_string()),
                    Err(err) => Err(err.to_string()),
                }
            }
        };
        let now = state.now_ms();
        match result {
            Ok(()) => {
                emails::mark(&state.db, &e.id, "sent", None, now).await?;
                sent += 1;
            }
            Err(err) => {
                let status = if e.attempts + 1 >= 5 { "failed" } else { "pending" };
                tracing::warn!(email = %e.id, error = %err, "email delivery failed");
                emails::mark(&state.db, &e.id, status, Some(&err), now).await?;
            }
        }
    }
    Ok(sent)
}

/// One pass of the email job.
pub async fn run(state: &Ctx) -> Result<(u32, u32), DbError> {
    let queued = collect(state).await?;
    let sent = deliver(state).await?;
    Ok((queued, sent))
}
