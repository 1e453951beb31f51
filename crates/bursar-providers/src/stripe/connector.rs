//! The [`Connector`] implementation: customers, Checkout Sessions,
//! PaymentIntents, refunds and webhooks against Stripe's API.

use super::*;

#[async_trait]
impl Connector for StripeConnector {
    fn kind(&self) -> ProviderKind {
        ProviderKind::Stripe
    }

    fn payouts(&self) -> Option<&dyn crate::payouts::PayoutConnector> {
        Some(self)
    }

    /// Looks the customer up by `metadata['customer_id']` (Customer search),
    /// and creates it (`POST /v1/customers`) when none is found. Search is
    /// eventually consistent; the idempotency key covers the gap.
    async fn ensure_customer(&self, customer: &CustomerInfo) -> Result<String, ProviderError> {
        let mut query = Form::default();
        query.push("query", format!("metadata['customer_id']:{}", search_literal(&customer.customer_id)));
        query.push("limit", "1");
        match self.get("/v1/customers/search", &query).await {
            Ok(found) => {
                if let Some(id) = found.get("data").and_then(|d| d.get(0)).and_then(|c| str_at(c, "id")) {
                    return Ok(id.to_string());
                }
            }
            // Search is not offered everywhere: fall through to creation.
            Err(Failure::Provider(ProviderError::Rejected { .. })) | Err(Failure::Missing(_)) => {}
            Err(e) => return Err(e.into_error()),
        }
        let mut form = Form::default();
        if let Some(email) = &customer.email {
            form.push("email", email);
        }
        if let Some(name) = &customer.name {
            form.push("name", name);
        }
        if let Some(country) = &customer.country {
            form.push("address[country]", country);
        }
        if let Some(phone) = &customer.phone {
            form.push("phone", phone);
        }
        form.push("metadata[customer_id]", &customer.customer_id);
        let created = self
            .post("/v1/customers", &form, idempotency_key(&customer.customer_id, "customer"))
            .await
            .map_err(Failure::into_error)?;
        required_str(&created, "id")
    }

    /// `POST /v1/checkout/sessions` in `payment` mode with one `price_data`
    /// line item. The payment id travels as `client_reference_id`, session
    /// metadata and PaymentIntent metadata. With `save_method` the card is
    /// kept for off-session use (`setup_future_usage=off_session`, cards only,
    /// a Customer created when none is given).
    async fn create_checkout(&self, req: &CheckoutRequest) -> Result<CheckoutSession, ProviderError> {
        let amount = to_stripe_amount(req.amount)?;
        let currency = req.amount.currency().to_ascii_lowercase();
        let pid = req.payment_id.as_str();
        let name = if req.description.trim().is_empty() { pid } else { req.description.as_str() };
        let mut form = Form::default();
        form.push("mode", "payment")
            .push("success_url", &req.success_url)
            .push("cancel_url", &req.cancel_url)
            .push("client_reference_id", pid)
            .push("line_items[0][quantity]", "1")
            .push("line_items[0][price_data][currency]", &currency)
            .push("line_items[0][price_data][unit_amount]", amount.to_string())
            .push("line_items[0][price_data][product_data][name]", name);
        form.metadata("metadata", &req.metadata, &[("payment_id", pid)]);
        form.metadata("payment_intent_data[metadata]", &req.metadata, &[("payment_id", pid)]);
        if !req.description.trim().is_empty() {
            form.push("payment_intent_data[description]", &req.description);
        }
        match &req.provider_customer {
            Some(customer) => {
                form.push("customer", customer);
            }
            None => {
                if let Some(email) = &req.customer.email {
                    form.push("customer_email", email);
                }
                if req.save_method {
                    form.push("customer_creation", "always");
                }
            }
        }
        if req.save_method {
            form.push("payment_intent_data[setup_future_usage]", "off_session");
            form.push("payment_method_types[]", "card");
        }
        let session = self
            .post("/v1/checkout/sessions", &form, idempotency_key(pid, "checkout"))
            .await
            .map_err(Failure::into_error)?;
        let id = required_str(&session, "id")?;
        let url = required_str(&session, "url")?;
        let mut client_params = BTreeMap::new();
        client_params.insert("session_id".to_string(), id.clone());
        Ok(CheckoutSession { provider_ref: id, redirect_url: url, client_params })
    }

    /// Reads the session with its PaymentIntent and payment method expanded.
    /// A `session_id` in `params` (from `success_url?session_id={CHECKOUT_SESSION_ID}`)
    /// must name the same session. An open session maps to `RequiresAction`
    /// (the buyer has not paid yet: send them back to the hosted page), an
    /// expired one to a decline with code `expired`.
    async fn complete_checkout(
        &self,
        session: &CheckoutSession,
        params: &BTreeMap<String, String>,
    ) -> Result<(ChargeOutcome, Option<MethodDetails>), ProviderError> {
        if let Some(returned) = params.get("session_id") {
            if returned != &session.provider_ref {
                return Err(invalid(format!(
                    "the buyer returned from session {returned}, not {}",
                    session.provider_ref
                )));
            }
        }
        let mut query = Form::default();
        query.push("expand[]", "payment_intent").push("expand[]", "payment_intent.payment_method");
        let cs = self
            .get(&format!("/v1/checkout/sessions/{}", segment(&session.provider_ref)), &query)
            .await
            .map_err(Failure::into_error)?;
        session_outcome(&cs)
    }

    /// `POST /v1/payment_intents` with `confirm=true` and `off_session=true`.
    /// A second call for the same payment id replays Stripe's first answer.
    async fn charge(&self, req: &ChargeRequest) -> Result<ChargeOutcome, ProviderError> {
        let amount = to_stripe_amount(req.amount)?;
        let pid = req.payment_id.as_str();
        let mut form = Form::default();
        form.push("amount", amount.to_string())
            .push("currency", req.amount.currency().to_ascii_lowercase())
            .push("payment_method", &req.method_token)
            .push("confirm", "true")
            .push("off_session", "true")
            .push("automatic_payment_methods[enabled]", "true")
            .push("automatic_payment_methods[allow_redirects]", "never");
        if let Some(customer) = &req.provider_customer {
            form.push("customer", customer);
        }
        if !req.description.trim().is_empty() {
            form.push("description", &req.description);
        }
        form.metadata("metadata", &req.metadata, &[("payment_id", pid)]);
        match self.post("/v1/payment_intents", &form, idempotency_key(pid, "charge")).await {
            Ok(pi) => intent_outcome(&pi),
            Err(Failure::Card(e)) => Ok(declined(&e)),
            Err(e) => Err(e.into_error()),
        }
    }

    /// By the provider id when known (`pi_…`, or a Checkout Session `cs_…`),
    /// else by PaymentIntent search on `metadata['payment_id']`. Search is
    /// eventually consistent (an intent may take a short while to appear), so
    /// `NotFound` right after a timeout is not proof; retrying the charge is
    /// still safe because it reuses the idempotency key.
    async fn retrieve(
        &self,
        payment_id: &str,
        provider_payment_id: Option<&str>,
    ) -> Result<PaymentStatus, ProviderError> {
        match provider_payment_id {
            Some(id) if id.starts_with("cs_") => {
                let mut query = Form::default();
                query.push("expand[]", "payment_intent");
                match self.get(&format!("/v1/checkout/sessions/{}", segment(id)), &query).await {
                    Ok(cs) => match cs.get("payment_intent").filter(|p| p.is_object()) {
                        Some(pi) => intent_status(pi),
                        None => Ok(match str_at(&cs, "status") {
                            Some("expired") => PaymentStatus::Canceled { provider_payment_id: id.to_string() },
                            _ => PaymentStatus::Pending { provider_payment_id: id.to_string() },
                        }),
                    },
                    Err(Failure::Missing(_)) => Ok(PaymentStatus::NotFound),
                    Err(e) => Err(e.into_error()),
                }
            }
            Some(id) => match self.get(&format!("/v1/payment_intents/{}", segment(id)), &Form::default()).await {
                Ok(pi) => intent_status(&pi),
                Err(Failure::Missing(_)) => Ok(PaymentStatus::NotFound),
                Err(e) => Err(e.into_error()),
            },
            None => {
                let mut query = Form::default();
                query.push("query", format!("metadata['payment_id']:{}", search_literal(payment_id)));
                let found = self.get("/v1/payment_intents/search", &query).await.map_err(Failure::into_error)?;
                let data = found
                    .get("data")
                    .and_then(Value::as_array)
                    .ok_or_else(|| protocol("search result without `data`"))?;
                let best = data.iter().max_by_key(|pi| (status_rank(pi), pi.get("created").and_then(Value::as_i64)));
                match best {
                    Some(pi) => intent_status(pi),
                    None => Ok(PaymentStatus::NotFound),
                }
            }
        }
    }

    /// `POST /v1/refunds` on the PaymentIntent. Stripe's refund reasons
    /// (`duplicate`, `fraudulent`, `requested_by_customer`) are passed as
    /// `reason`; any other text goes to `metadata[reason]`.
    async fn refund(&self, req: &RefundRequest) -> Result<RefundOutcome, ProviderError> {
        let amount = to_stripe_amount(req.amount)?;
        let mut form = Form::default();
        form.push("payment_intent", &req.provider_payment_id).push("amount", amount.to_string());
        form.push("metadata[refund_id]", &req.refund_id);
        if let Some(reason) = &req.reason {
            if matches!(reason.as_str(), "duplicate" | "fraudulent" | "requested_by_customer") {
                form.push("reason", reason);
            } else {
                form.push("metadata[reason]", reason);
            }
        }
        let refund = match self.post("/v1/refunds", &form, idempotency_key(&req.refund_id, "refund")).await {
            Ok(r) => r,
            Err(Failure::Card(e)) => {
                return Ok(RefundOutcome::Failed { provider_refund_id: None, message: e.describe() });
            }
            Err(e) => return Err(e.into_error()),
        };
        let id = required_str(&refund, "id")?;
        Ok(match str_at(&refund, "status") {
            Some("succeeded") => RefundOutcome::Succeeded { provider_refund_id: id },
            Some("failed" | "canceled") => RefundOutcome::Failed {
                message: str_at(&refund, "failure_reason").unwrap_or("the refund failed").to_string(),
                provider_refund_id: Some(id),
            },
            _ => RefundOutcome::Pending { provider_refund_id: id },
        })
    }

    async fn verify_webhook(
        &self,
        headers: &Headers,
        body: &[u8],
        now: jiff::Timestamp,
    ) -> Result<WebhookEvent, WebhookError> {
        let header = headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case("stripe-signature"))
            .map(|(_, v)| v.as_str())
            .ok_or(WebhookError::MissingSignature)?;
        verify_signature(header, body, &self.config.webhook_secrets, self.config.webhook_tolerance, now)?;
        parse_event(body)
    }

    /// [`parse_event`] on the stored body: the same event
    /// [`Connector::verify_webhook`] returned when it arrived, whatever its
    /// age.
    async fn parse_webhook(&self, body: &[u8]) -> Result<WebhookEvent, WebhookError> {
        parse_event(body)
    }
}
